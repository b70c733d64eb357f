import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, UnknownCodecKeyError } from '../../common/codec/aes-gcm-codec';
import { dataConverterFromEnv, loadCodecConfig, parseCodecKeys } from '../../common/codec/data-converter';
import { failureConverter as encryptingFailureConverter } from '../../common/codec/encrypting-failure-converter';
import { failureConverter as sanitizingFailureConverter } from '../../common/codec/failure-converter';
import { decodePayloadProto, encodePayloadProto } from '../../common/codec/payload-proto';
import { ConfigError } from '../../common/connection';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (p: Payload) => Buffer.from(p.data ?? []).toString('utf8');
const meta = (p: Payload, k: string) =>
  p.metadata?.[k] ? Buffer.from(p.metadata[k]!).toString('utf8') : undefined;

describe('AES-256-GCM payload codec', () => {
  const payload = defaultPayloadConverter.toPayload({
    customer: { name: 'Acme Coffee', billingEmail: 'billing@acme.example' },
  });

  test('round trip: encrypted payload carries the encoding and key id, not the plaintext', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const [encrypted] = await codec.encode([payload]);
    expect(meta(encrypted!, 'encoding')).toBe('binary/encrypted');
    expect(meta(encrypted!, 'encryption-key-id')).toBe('k1');
    expect(Object.keys(encrypted!.metadata!).sort()).toEqual([
      'encoding',
      'encrypted-encoding',
      'encryption-format',
      'encryption-key-id',
    ]);
    expect(meta(encrypted!, 'encryption-format')).toBe('aes-256-gcm/aad-2');
    expect(text(encrypted!)).not.toContain('Acme');
    const [decoded] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({
      customer: { name: 'Acme Coffee', billingEmail: 'billing@acme.example' },
    });
  });

  test('a fresh IV every time: the same payload never encrypts to the same bytes', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const [a, b] = await codec.encode([payload, payload]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  test('a metadata key named __proto__ stays a key (found by the property below)', async () => {
    const codec = new AesGcmPayloadCodec([key('a')]);
    const metadata = Object.defineProperty({}, '__proto__', {
      value: new Uint8Array([1]),
      enumerable: true,
    }) as Record<string, Uint8Array>;
    const [decoded] = await codec.decode(await codec.encode([{ metadata, data: new Uint8Array() }]));
    expect(Object.keys(decoded!.metadata!)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(decoded!.metadata)).toBe(Object.prototype);
  });

  test('property: any payload (any metadata, any bytes, empty ones too) survives encode → decode', async () => {
    const codec = new AesGcmPayloadCodec([key('a'), key('b')]);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 40 }), {
          maxKeys: 5,
        }),
        fc.uint8Array({ maxLength: 2000 }),
        async (metadata, data) => {
          const [encrypted] = await codec.encode([{ metadata, data }]);
          const [decoded] = await codec.decode([encrypted!]);
          expect(Object.keys(decoded!.metadata!).sort()).toEqual(Object.keys(metadata).sort());
          for (const [k, v] of Object.entries(metadata))
            expect(Buffer.from(decoded!.metadata![k]!).equals(Buffer.from(v))).toBe(true);
          expect(Buffer.from(decoded!.data!).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('the inner bytes are the protobuf Payload wire form (readable by other SDKs with the same keys)', () => {
    // The encoder is @temporalio/proto's own message now; the fixtures in test/codec hold the bytes the
    // hand-written encoder wrote before, and the new ones must equal them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { temporal } = require('@temporalio/proto');
    const reference = temporal.api.common.v1.Payload.encode(payload).finish() as Uint8Array;
    const ours = encodePayloadProto(payload);
    expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true);
    const back = temporal.api.common.v1.Payload.decode(ours);
    expect(Buffer.from(back.data).toString()).toBe(text(payload));
    expect(decodePayloadProto(reference).data).toEqual(payload.data);
  });

  test('rotation: new payloads use the newest (last) key; payloads from the old key still decrypt', async () => {
    const old = key('2025-01');
    const newer = key('2026-01');
    const before = new AesGcmPayloadCodec([old]);
    const [fromOld] = await before.encode([payload]);
    const after = new AesGcmPayloadCodec([old, newer]);
    expect(after.encryptionKeyId).toBe('2026-01');
    const [fromNew] = await after.encode([payload]);
    expect(meta(fromNew!, 'encryption-key-id')).toBe('2026-01');
    const [a, b] = await after.decode([fromOld!, fromNew!]);
    expect(text(a!)).toBe(text(payload));
    expect(text(b!)).toBe(text(payload));
    // Pinning (TEMPORAL_CODEC_ENCRYPTION_KEY_ID) keeps encrypting with the old key during a rollout.
    const pinned = new AesGcmPayloadCodec([old, newer], { encryptionKeyId: '2025-01' });
    expect(meta((await pinned.encode([payload]))[0]!, 'encryption-key-id')).toBe('2025-01');
  });

  test('an unknown key id is a clear error naming that id (and never a key)', async () => {
    const [encrypted] = await new AesGcmPayloadCodec([key('retired-2024')]).encode([payload]);
    const codec = new AesGcmPayloadCodec([key('2026-01')]);
    await expect(codec.decode([encrypted!])).rejects.toThrow(UnknownCodecKeyError);
    await expect(codec.decode([encrypted!])).rejects.toThrow(
      /key id "retired-2024", which is not configured \(configured: 2026-01\)/,
    );
  });

  test('a wrong key under a known id, or tampered ciphertext, fails authentication', async () => {
    const [encrypted] = await new AesGcmPayloadCodec([key('k1')]).encode([payload]);
    await expect(new AesGcmPayloadCodec([key('k1')]).decode([encrypted!])).rejects.toThrow(
      /key id "k1" failed authentication/,
    );
    const codec = new AesGcmPayloadCodec([key('k2')]);
    const [good] = await codec.encode([payload]);
    const tampered = Buffer.from(good!.data!);
    tampered[20]! ^= 1;
    await expect(codec.decode([{ ...good!, data: tampered }])).rejects.toThrow(/failed authentication/);
  });

  test('payloads that are not encrypted pass through decode unchanged (histories from before the codec)', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const [same] = await codec.decode([payload]);
    expect(same).toBe(payload);
  });

  test('constructor refuses bad keys', () => {
    expect(() => new AesGcmPayloadCodec([])).toThrow(/at least one key/);
    expect(() => new AesGcmPayloadCodec([{ id: 'k', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => new AesGcmPayloadCodec([key('a'), key('a')])).toThrow(/twice/);
    expect(() => new AesGcmPayloadCodec([key('a')], { encryptionKeyId: 'b' })).toThrow(/not among/);
  });
});

describe('codec configuration (TEMPORAL_CODEC_KEYS / _FILE / _ENCRYPTION_KEY_ID)', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64url');

  test('off unless keys are configured', () => {
    expect(loadCodecConfig({})).toBeUndefined();
    expect(dataConverterFromEnv({})).toBeUndefined();
  });

  test('id:base64 pairs, newest last; base64url accepted; the last key encrypts', () => {
    const config = loadCodecConfig({ TEMPORAL_CODEC_KEYS: ` old:${k1} , new:${k2} ` })!;
    expect(config.keys.map((k) => k.id)).toEqual(['old', 'new']);
    expect(config.encryptionKeyId).toBe('new');
    expect(
      loadCodecConfig({
        TEMPORAL_CODEC_KEYS: `old:${k1},new:${k2}`,
        TEMPORAL_CODEC_ENCRYPTION_KEY_ID: 'old',
      })!.encryptionKeyId,
    ).toBe('old');
    const converter = dataConverterFromEnv({ TEMPORAL_CODEC_KEYS: `old:${k1}` })!;
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(converter.failureConverterPath).toMatch(/encrypting-failure-converter/);
  });

  test('a keys file: one per line, comments allowed', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codec-keys-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, `# rotated 2026-01\nold:${k1}\nnew:${k2}\n`, { mode: 0o600 });
    expect(loadCodecConfig({ TEMPORAL_CODEC_KEYS_FILE: file })!.keys.map((k) => k.id)).toEqual([
      'old',
      'new',
    ]);
    expect(() => loadCodecConfig({ TEMPORAL_CODEC_KEYS_FILE: path.join(dir, 'missing') })).toThrow(
      /^TEMPORAL_CODEC_KEYS_FILE: cannot read .* \(ENOENT\)$/,
    );
  });

  test.each([
    [{ TEMPORAL_CODEC_KEYS: 'nokey' }, /^TEMPORAL_CODEC_KEYS: entry 1 must be id:base64key/],
    [{ TEMPORAL_CODEC_KEYS: `a:${k1},a:${k2}` }, /^TEMPORAL_CODEC_KEYS: key id "a" appears twice/],
    [
      { TEMPORAL_CODEC_KEYS: `a:${randomBytes(16).toString('base64')}` },
      /^TEMPORAL_CODEC_KEYS: key "a" must decode to 32 bytes \(AES-256\), got 16/,
    ],
    [{ TEMPORAL_CODEC_KEYS: 'a:not base64!!' }, /^TEMPORAL_CODEC_KEYS: key "a" is not base64/],
    [{ TEMPORAL_CODEC_KEYS: `bad id:${k1}` }, /^TEMPORAL_CODEC_KEYS: key id "bad id" must be/],
    [{ TEMPORAL_CODEC_KEYS: ',,' }, /^TEMPORAL_CODEC_KEYS: no keys/],
    [
      { TEMPORAL_CODEC_KEYS: `a:${k1}`, TEMPORAL_CODEC_KEYS_FILE: '/x' },
      /^TEMPORAL_CODEC_KEYS_FILE: set either/,
    ],
    [
      { TEMPORAL_CODEC_KEYS: `a:${k1}`, TEMPORAL_CODEC_ENCRYPTION_KEY_ID: 'b' },
      /^TEMPORAL_CODEC_ENCRYPTION_KEY_ID: "b" is not one of the configured key ids \(a\)/,
    ],
  ])('one clear line naming the variable: %o', (env, message) => {
    let error: unknown;
    try {
      loadCodecConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(k1);
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });

  test('parseCodecKeys never echoes key material, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (value) => {
        try {
          parseCodecKeys(value);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const after = value.split(':').slice(1).join(':').trim();
          if (after.length >= 8) expect((err as Error).message).not.toContain(after);
        }
      }),
    );
  });
});

describe('failure converters', () => {
  const secret = 'lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz012345';

  test('messages and stack traces are scrubbed of key material, down the cause chain', () => {
    const cause = new Error(`inner with ${secret}`);
    const err = ApplicationFailure.create({
      message: `outer Bearer ${secret} whsec_${'x'.repeat(40)}`,
      cause,
    });
    const failure = sanitizingFailureConverter.errorToFailure(err, defaultPayloadConverter);
    const all = JSON.stringify(failure);
    expect(all).not.toContain(secret);
    expect(all).not.toContain('whsec_xxxx');
    expect(failure.message).toContain('[REDACTED]');
    expect(failure.cause!.message).toBe('inner with [REDACTED]');
    expect(failure.stackTrace).not.toContain(secret);
  });

  test('with the codec: message and stack move into an encoded payload (which the codec encrypts)', () => {
    const failure = encryptingFailureConverter.errorToFailure(
      ApplicationFailure.create({ message: `Acme Coffee ${secret}` }),
      defaultPayloadConverter,
    );
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    const attrs = defaultPayloadConverter.fromPayload<{ message: string; stack_trace: string }>(
      failure.encodedAttributes!,
    );
    expect(attrs.message).toBe('Acme Coffee [REDACTED]');
    expect(attrs.stack_trace).not.toContain(secret);
    const back = encryptingFailureConverter.failureToError(failure, defaultPayloadConverter);
    expect(back.message).toBe('Acme Coffee [REDACTED]');
  });
});
