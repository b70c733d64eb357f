// Issue 14 items 1, 7, 9: a stranger cannot stop or stall the codec server, and AES-GCM binds the metadata.
import { createCipheriv, randomBytes } from 'node:crypto';
import net from 'node:net';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../common/codec/aes-gcm-codec';
import { encodePayloadProto } from '../../common/codec/payload-proto';
import {
  MAX_PAYLOADS,
  payloadToJson,
  startCodecServer,
  type RunningCodecServer,
} from '../../worker/codec-server';

const TOKEN = 'hardening-codec-token-abcdefghijklmnop';

/** Sends raw bytes and resolves with whatever the server answered (or '' when it closed without answering). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(request.split('\r\n')[0])}`));
    });
    socket.end(request);
  });
}

describe('codec server survives hostile requests', () => {
  let server: RunningCodecServer;
  const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
  const stillServes = async () => {
    const res = await fetch(`${server.url}/encode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ payloads: [payloadToJson(defaultPayloadConverter.toPayload('ping'))] }),
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    server = await startCodecServer({ codec, token: TOKEN, port: 0 });
  });
  afterAll(async () => server?.close());

  test.each([
    ['POST //[ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', /^HTTP\/1\.1 401/],
    [
      `POST //[/decode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 0\r\n\r\n`,
      /^HTTP\/1\.1 404/,
    ],
    [`POST /%zz/decode HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`, /^HTTP\/1\.1 401/],
    ['GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 (400|401)/],
    ['NOT A REQUEST LINE\r\n\r\n', /^HTTP\/1\.1 400/],
    ['POST /decode HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', /^HTTP\/1\.1 400/],
  ])('%j is answered and the server keeps serving', async (request, expected) => {
    expect(await raw(server.port, request)).toMatch(expected);
    await stillServes();
  });

  test('a bad token with a large body: 401 without reading or parsing it', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { Authorization: 'Bearer not-the-token-abcdefghijkl', 'Content-Type': 'application/json' },
      body: `{"payloads":[${'{},'.repeat(1_000_000)}{}]}`,
    });
    expect(res.status).toBe(401);
    await stillServes();
  });

  test('500,000 tiny payloads: refused with 413 at once, not encrypted for seconds', async () => {
    const started = Date.now();
    const res = await fetch(`${server.url}/encode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: `{"payloads":[${'{},'.repeat(499_999)}{}]}`,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(`at most ${MAX_PAYLOADS} payloads`);
    expect(Date.now() - started).toBeLessThan(3_000);
    await stillServes();
  });

  test('a client that drops the connection mid-body does not stop the server', async () => {
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => {
        socket.write(
          `POST /decode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100000\r\n\r\n{"payloads":[`,
        );
        setImmediate(() => {
          socket.destroy();
          resolve();
        });
      });
    });
    await stillServes();
  });
});

describe('AES-GCM associated data (format 2) and old payloads (format 1)', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const codec = new AesGcmPayloadCodec([k1]);
  const payload = defaultPayloadConverter.toPayload({ secret: 'customer data' });
  const enc = (s: string) => new TextEncoder().encode(s);

  test('changing any metadata of an encrypted payload fails authentication', async () => {
    const [encrypted] = await codec.encode([payload]);
    for (const [key, value] of [
      ['encrypted-encoding', 'binary/plain'],
      ['encryption-format', 'aes-256-gcm/aad-2 '],
    ] as const) {
      const moved: Payload = { ...encrypted!, metadata: { ...encrypted!.metadata, [key]: enc(value) } };
      await expect(codec.decode([moved])).rejects.toThrow();
    }
    const extra: Payload = { ...encrypted!, metadata: { ...encrypted!.metadata, 'x-extra': enc('1') } };
    await expect(codec.decode([extra])).rejects.toThrow(/failed authentication/);
  });

  test('a format-2 ciphertext stripped of its format marker (downgrade) fails', async () => {
    const [encrypted] = await codec.encode([payload]);
    const { 'encryption-format': _format, ...rest } = encrypted!.metadata!;
    await expect(codec.decode([{ ...encrypted!, metadata: rest }])).rejects.toThrow(/failed authentication/);
  });

  test('payloads written before (no associated data, no marker) still decrypt', async () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', k1.key, iv);
    const body = Buffer.concat([cipher.update(encodePayloadProto(payload)), cipher.final()]);
    const old: Payload = {
      metadata: { encoding: enc('binary/encrypted'), 'encryption-key-id': enc('k1') },
      data: new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()])),
    };
    const [decoded] = await codec.decode([old]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ secret: 'customer data' });
  });
});
