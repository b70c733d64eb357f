import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, associatedData, FORMAT_AAD_V2 } from '../../common/codec/aes-gcm-codec';
import { decodePayloadProto, encodePayloadProto } from '../../common/codec/payload-proto';
import { legacyDecodePayloadProto } from './legacy-payload-proto';

// Payloads the codec encrypted before its protobuf encoding moved to @temporalio/proto
// (fixtures/generate-aes-gcm-fixtures.ts, committed before the swap). Histories hold such payloads for
// as long as workflows live: every one must keep decoding to exactly the payload that was encrypted.

interface Fixture {
  keys: { id: string; key: string }[];
  cases: {
    name: string;
    format: 1 | 2;
    plain: { metadata: [string, string][]; data: string };
    innerProto: string;
    encrypted: { metadata: [string, string][]; data: string };
  }[];
}

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures/aes-gcm-payloads.json'), 'utf8'),
) as Fixture;
const keys = fixture.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }));
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

function toPayload(p: { metadata: [string, string][]; data: string }): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of p.metadata)
    Object.defineProperty(metadata, k, {
      value: bytes(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return { metadata, data: bytes(p.data) };
}

/** Metadata as ordered [key, base64] pairs and data as base64: equal means bit-exact. */
function shape(p: Payload) {
  return {
    metadata: Object.keys(p.metadata ?? {}).map((k) => [
      k,
      Buffer.from(p.metadata![k] ?? []).toString('base64'),
    ]),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

/** The inner plaintext, decrypted without the codec (so this test does not trust what it checks). */
function decryptRaw(encrypted: Payload, format: 1 | 2): Buffer {
  const keyId = Buffer.from(encrypted.metadata!['encryption-key-id']!).toString();
  const data = Buffer.from(encrypted.data!);
  const decipher = createDecipheriv(
    'aes-256-gcm',
    keys.find((k) => k.id === keyId)!.key,
    data.subarray(0, 12),
  );
  if (format === 2) decipher.setAAD(associatedData(encrypted.metadata!));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
}

describe('AES-GCM payloads written before the @temporalio/proto swap', () => {
  const codec = new AesGcmPayloadCodec(keys);

  test('the fixture covers both formats', () => {
    const formats = fixture.cases.map((c) => c.format);
    expect(formats.filter((f) => f === 1).length).toBeGreaterThanOrEqual(5);
    expect(formats.filter((f) => f === 2).length).toBeGreaterThanOrEqual(5);
    for (const c of fixture.cases) {
      const format = toPayload(c.encrypted).metadata!['encryption-format'];
      expect(format ? Buffer.from(format).toString() : undefined).toBe(
        c.format === 2 ? FORMAT_AAD_V2 : undefined,
      );
    }
  });

  test.each(fixture.cases.map((c) => [`format ${c.format}: ${c.name}`, c] as const))(
    '%s decodes bit-exactly',
    async (_, c) => {
      const [decoded] = await codec.decode([toPayload(c.encrypted)]);
      expect(shape(decoded!)).toEqual(shape(toPayload(c.plain)));
      expect(Object.getPrototypeOf(decoded!.metadata)).toBe(Object.prototype);
    },
  );

  test.each(fixture.cases.map((c) => [`format ${c.format}: ${c.name}`, c] as const))(
    '%s: the new encoder writes the same inner bytes the hand-written one did',
    (_, c) => {
      const inner = decryptRaw(toPayload(c.encrypted), c.format);
      expect(inner.toString('base64')).toBe(c.innerProto);
      expect(Buffer.from(encodePayloadProto(toPayload(c.plain))).toString('base64')).toBe(c.innerProto);
    },
  );

  test.each(fixture.cases.map((c) => [`format ${c.format}: ${c.name}`, c] as const))(
    '%s: re-encrypted now, it decodes with the old hand-written decoder too (a worker not yet upgraded)',
    async (_, c) => {
      const [encrypted] = await codec.encode([toPayload(c.plain)]);
      const inner = decryptRaw(encrypted!, 2);
      expect(shape(legacyDecodePayloadProto(inner))).toEqual(shape(toPayload(c.plain)));
      expect(shape(decodePayloadProto(inner))).toEqual(shape(toPayload(c.plain)));
    },
  );

  test('an empty data field is left out, as before (proto3 writes no default value): the bytes are the same', () => {
    const empty: Payload = {
      metadata: { encoding: new TextEncoder().encode('binary/null') },
      data: new Uint8Array(),
    };
    const ours = encodePayloadProto(empty);
    expect(Buffer.from(ours).toString('hex')).toBe('0a170a08656e636f64696e67120b62696e6172792f6e756c6c');
    expect(shape(legacyDecodePayloadProto(ours))).toEqual(shape(empty));
    expect(
      shape(decodePayloadProto(Buffer.from('0a170a08656e636f64696e67120b62696e6172792f6e756c6c1200', 'hex'))),
    ).toEqual(shape(empty));
  });
});
