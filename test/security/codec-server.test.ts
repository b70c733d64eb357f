import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../common/codec/aes-gcm-codec';
import { payloadToJson, startCodecServer, type RunningCodecServer } from '../../worker/codec-server';
import { loadCodecServerConfig } from '../../worker/codec-server-main';
import { ConfigError } from '../../common/connection';

const TOKEN = 'unit-codec-token-abcdefghijklmnop';

describe('codec server over HTTP (remote codec protocol)', () => {
  let server: RunningCodecServer;
  const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
  const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  const post = (route: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startCodecServer({ codec, token: TOKEN, port: 0 });
  });
  afterAll(async () => server?.close());

  test('encode then decode round-trips a payload in proto3 JSON form', async () => {
    const plain = payloadToJson(defaultPayloadConverter.toPayload({ name: 'Acme Coffee' }));
    const encoded = (await (await post('/encode', { payloads: [plain] })).json()) as {
      payloads: Array<{ metadata: Record<string, string>; data: string }>;
    };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(
      'binary/encrypted',
    );
    expect(Buffer.from(encoded.payloads[0]!.data, 'base64').toString()).not.toContain('Acme');
    const decoded = (await (await post('/decode', encoded)).json()) as { payloads: unknown[] };
    expect(decoded.payloads).toEqual([plain]);
  });

  test('no token, a wrong token, or a token in the wrong place: 401 and nothing decoded', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload('secret stuff')]);
    const body = { payloads: [payloadToJson(encrypted!)] };
    const attempts: Array<Record<string, string>> = [
      { 'Content-Type': 'application/json' },
      { 'Content-Type': 'application/json', Authorization: 'Bearer wrong-token-abcdefghijklmn' },
      { 'Content-Type': 'application/json', Authorization: TOKEN },
      { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}x` },
    ];
    for (const headers of attempts) {
      const res = await post('/decode', body, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.text()).not.toContain('secret stuff');
    }
    expect(
      (await post('/wrong-token-abcdefghijk/decode', body, { 'Content-Type': 'application/json' })).status,
    ).toBe(401);
    expect((await post(`/${TOKEN}/decode`, body, { 'Content-Type': 'application/json' })).status).toBe(200);
  });

  test('CORS: the Web UI origin gets a preflight with credentials and X-Namespace/Authorization allowed; others do not', async () => {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:8233',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);

    const evil = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();

    const res = await post(
      '/decode',
      { payloads: [] },
      { ...auth, Origin: 'http://127.0.0.1:8233', 'X-Namespace': 'default' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
  });

  test('bad requests get a clear status, never a crash', async () => {
    expect((await post('/decode', 'not json')).status).toBe(400);
    expect((await post('/decode', { nope: 1 })).status).toBe(400);
    expect((await post('/decode', { payloads: [{ data: '!!!' }] })).status).toBe(400);
    expect((await post('/decode', { payloads: [42] })).status).toBe(400);
    expect((await post('/elsewhere', { payloads: [] })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`, { headers: auth })).status).toBe(405);
    const unknownKey = await new AesGcmPayloadCodec([{ id: 'gone', key: randomBytes(32) }]).encode([
      defaultPayloadConverter.toPayload(1),
    ]);
    const res = await post('/decode', { payloads: [payloadToJson(unknownKey[0]!)] });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toMatch(/key id "gone"/);
    const big = await post(
      '/decode',
      JSON.stringify({ payloads: [{ data: 'A'.repeat(9 * 1024 * 1024) }] }),
    ).catch((e: Error) => e);
    if (!(big instanceof Error)) expect(big.status).toBe(413);
    // Still serving afterwards.
    expect((await post('/decode', { payloads: [] })).status).toBe(200);
  });
});

describe('codec server configuration', () => {
  test('token required, at least 16 characters; port and CORS origins validated; one line naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^CODEC_SERVER_TOKEN: required/],
      [{ CODEC_SERVER_TOKEN: 'short' }, /^CODEC_SERVER_TOKEN: must be at least 16/],
      [{ CODEC_SERVER_TOKEN: 'has spaces in it here!!' }, /^CODEC_SERVER_TOKEN: must be printable ASCII/],
      [
        { CODEC_SERVER_TOKEN: TOKEN, CODEC_SERVER_PORT: 'eighty' },
        /^CODEC_SERVER_PORT: must be a port number/,
      ],
      [
        { CODEC_SERVER_TOKEN: TOKEN, CODEC_SERVER_CORS_ORIGINS: 'http://ui.example/path' },
        /^CODEC_SERVER_CORS_ORIGINS: "http:\/\/ui.example\/path" must be/,
      ],
      [{ CODEC_SERVER_TOKEN: TOKEN, CODEC_SERVER_TOKEN_FILE: '/x' }, /^CODEC_SERVER_TOKEN_FILE: set either/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadCodecServerConfig(env)).toThrow(ConfigError);
      expect(() => loadCodecServerConfig(env)).toThrow(message);
    }
    expect(loadCodecServerConfig({ CODEC_SERVER_TOKEN: TOKEN })).toEqual({
      token: TOKEN,
      port: 8888,
      host: '127.0.0.1',
      corsOrigins: ['http://localhost:8233', 'http://127.0.0.1:8233'],
    });
    expect(
      loadCodecServerConfig({
        CODEC_SERVER_TOKEN: TOKEN,
        CODEC_SERVER_PORT: '9999',
        CODEC_SERVER_CORS_ORIGINS: 'https://ui.example.com',
      }),
    ).toMatchObject({
      port: 9999,
      corsOrigins: ['https://ui.example.com'],
    });
  });
});
