import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  FileSecretSink,
  HttpSecretSink,
  VaultSecretSink,
  createSecretSink,
  describeSecretSink,
  signSecretSinkBody,
  type ShownOnceSecret,
} from '../../activities/secret-sinks';
import { ConfigError } from '../../common/connection';
import { loadLayersConfig } from '../../worker/config';
import { startSinkReceiver } from './sink-receiver';

const KEY = 'sink-signing-key-0123456789abcdef0123456789';
const secret: ShownOnceSecret = {
  kind: 'api-key',
  id: 'key_7b0c2c57-8e57-4d1a-9c39-0c7d2b1e4f60',
  secret: 'lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz012345',
  organizationId: 'org_1',
  externalId: 'acme-coffee',
  prefix: 'lp_live_ABCDEFGHJKMNPQRS',
};
const fast = { initial: 1, max: 5 };

describe('HttpSecretSink', () => {
  test('POSTs the documented JSON, signed (t=…,v1=HMAC-SHA256) and keyed by kind:id; returns a history-safe reference', async () => {
    const receiver = await startSinkReceiver(KEY);
    try {
      const ref = await new HttpSecretSink({ url: receiver.url, signingKey: KEY }).store(secret);
      expect(ref).toBe(`http:api-key/${secret.id}`);
      expect(ref).not.toContain(secret.secret);
      expect(receiver.received).toHaveLength(1);
      const [req] = receiver.received;
      expect(req!.signatureValid).toBe(true);
      expect(req!.headers['idempotency-key']).toBe(`api-key:${secret.id}`);
      expect(req!.headers['content-type']).toBe('application/json');
      expect(req!.json).toEqual({
        kind: 'api-key',
        id: secret.id,
        organizationId: 'org_1',
        externalId: 'acme-coffee',
        prefix: 'lp_live_ABCDEFGHJKMNPQRS',
        secret: secret.secret,
      });
      expect(signSecretSinkBody(KEY, req!.body, req!.timestamp)).toBe(
        req!.headers['x-layers-orchestrator-signature'],
      );
    } finally {
      await receiver.close();
    }
  });

  test('5xx, 429 and 408 are retried in-process with backoff, same body and key; then 2xx = stored once', async () => {
    const receiver = await startSinkReceiver(KEY, [500, 429, 408, 503]);
    const sleeps: number[] = [];
    try {
      const sink = new HttpSecretSink({
        url: receiver.url,
        signingKey: KEY,
        attempts: 5,
        backoffMs: { initial: 10, max: 30 },
        sleep: async (ms) => void sleeps.push(ms),
      });
      await sink.store(secret);
      expect(receiver.received.map((r) => r.status)).toEqual([500, 429, 408, 503, 200]);
      expect(new Set(receiver.received.map((r) => r.headers['idempotency-key']))).toEqual(
        new Set([`api-key:${secret.id}`]),
      );
      expect(new Set(receiver.received.map((r) => r.json.secret))).toEqual(new Set([secret.secret]));
      expect(sleeps).toEqual([10, 20, 30, 30]);
      expect([...receiver.stored.values()]).toEqual([secret.secret]);
    } finally {
      await receiver.close();
    }
  });

  test('out of attempts, or a non-retryable 4xx: store throws without the secret or body in the message', async () => {
    const receiver = await startSinkReceiver(KEY, [503, 503, 503, 400]);
    try {
      const sink = new HttpSecretSink({
        url: `${receiver.url}?token=abc`,
        signingKey: KEY,
        attempts: 3,
        backoffMs: fast,
      });
      const err = (await sink.store(secret).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/did not store api-key:key_.* after 3 attempts \(last: HTTP 503\)/);
      expect(err.message).not.toContain('token=abc');
      const refused = (await sink.store(secret).catch((e: unknown) => e)) as Error;
      expect(receiver.received).toHaveLength(4); // 400 is not retried
      expect(refused.message).toMatch(/refused api-key:key_.* with HTTP 400/);
      for (const m of [err.message, refused.message, err.stack, refused.stack]) {
        expect(m).not.toContain(secret.secret);
        expect(m).not.toContain('"secret"');
      }
    } finally {
      await receiver.close();
    }
  });

  test('a wrong signing key is refused by the receiver (401) and not retried', async () => {
    const receiver = await startSinkReceiver(KEY);
    try {
      const sink = new HttpSecretSink({
        url: receiver.url,
        signingKey: 'another-key-entirely-0000000000000000',
        backoffMs: fast,
      });
      await expect(sink.store(secret)).rejects.toThrow(/HTTP 401/);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  test('network errors and timeouts are retried, then fail', async () => {
    // A port nobody listens on.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = new HttpSecretSink({
      url: `http://127.0.0.1:${port}/x`,
      signingKey: KEY,
      attempts: 2,
      backoffMs: fast,
    });
    await expect(refused.store(secret)).rejects.toThrow(
      /after 2 attempts \(last: network error \(ECONNREFUSED\)\)/,
    );

    let hits = 0;
    const hanging = http.createServer(() => void hits++);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const slow = new HttpSecretSink({
        url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/x`,
        signingKey: KEY,
        attempts: 2,
        timeoutMs: 100,
        backoffMs: fast,
      });
      await expect(slow.store(secret)).rejects.toThrow(/after 2 attempts \(last: network error/);
      expect(hits).toBe(2);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});

describe('VaultSecretSink', () => {
  test('writes <prefix>/<kind>/<id> through the VaultClient and returns vault:<path>', async () => {
    const writes: Array<[string, Record<string, string>]> = [];
    const sink = new VaultSecretSink(
      { write: async (p, data) => void writes.push([p, data]) },
      { pathPrefix: '/partners/quinn/' },
    );
    expect(await sink.store(secret)).toBe(`vault:partners/quinn/api-key/${secret.id}`);
    expect(writes).toEqual([
      [
        `partners/quinn/api-key/${secret.id}`,
        {
          kind: 'api-key',
          id: secret.id,
          secret: secret.secret,
          organizationId: 'org_1',
          externalId: 'acme-coffee',
          prefix: secret.prefix,
        },
      ],
    ]);
    await expect(sink.store({ ...secret, id: '../../etc' })).rejects.toThrow(/unsafe id/);
    const failing = new VaultSecretSink({ write: async () => Promise.reject(new Error('vault sealed')) });
    await expect(failing.store(secret)).rejects.toThrow('vault sealed');
  });
});

describe('choosing the sink from the worker environment', () => {
  const base = { LAYERS_PARENT_KEY: 'lp_live_ABCDEFGHJKMNPQRS_parentparentparentparent' };

  test('file by default; http with a URL and an HMAC key (inline or from a file)', () => {
    const file = loadLayersConfig({ ...base, LAYERS_SECRET_SINK_DIR: '/tmp/s' }).secretSink;
    expect(file).toEqual({ kind: 'file', dir: '/tmp/s' });
    expect(createSecretSink(file)).toBeInstanceOf(FileSecretSink);

    const httpConfig = loadLayersConfig({
      ...base,
      LAYERS_SECRET_SINK: 'http',
      LAYERS_SECRET_SINK_URL: 'https://crm.example/secrets',
      LAYERS_SECRET_SINK_HMAC_KEY: KEY,
    }).secretSink;
    expect(httpConfig).toEqual({ kind: 'http', url: 'https://crm.example/secrets', hmacKey: KEY });
    expect(createSecretSink(httpConfig)).toBeInstanceOf(HttpSecretSink);
    expect(describeSecretSink(httpConfig)).toBe('http (https://crm.example/secrets)');
    expect(describeSecretSink(httpConfig)).not.toContain(KEY);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'sink-key-'));
    writeFileSync(path.join(dir, 'hmac'), `${KEY}\n`, { mode: 0o600 });
    const fromFile = loadLayersConfig({
      ...base,
      LAYERS_SECRET_SINK: 'http',
      LAYERS_SECRET_SINK_URL: 'http://localhost:9000/s',
      LAYERS_SECRET_SINK_HMAC_KEY_FILE: path.join(dir, 'hmac'),
    }).secretSink;
    expect(fromFile).toMatchObject({ kind: 'http', hmacKey: KEY });
  });

  test.each([
    [{ LAYERS_SECRET_SINK: 'ftp' }, /^LAYERS_SECRET_SINK: must be "file" or "http"$/],
    [{ LAYERS_SECRET_SINK: 'http' }, /^LAYERS_SECRET_SINK_URL: required when LAYERS_SECRET_SINK=http$/],
    [
      { LAYERS_SECRET_SINK: 'http', LAYERS_SECRET_SINK_URL: 'crm.example/secrets' },
      /^LAYERS_SECRET_SINK_URL: must be an absolute https URL$/,
    ],
    [
      { LAYERS_SECRET_SINK: 'http', LAYERS_SECRET_SINK_URL: 'http://crm.example/secrets' },
      /^LAYERS_SECRET_SINK_URL: must use https \(plain http only for localhost\)$/,
    ],
    [
      { LAYERS_SECRET_SINK: 'http', LAYERS_SECRET_SINK_URL: 'https://u:p@crm.example/s' },
      /^LAYERS_SECRET_SINK_URL: must not carry credentials/,
    ],
    [
      { LAYERS_SECRET_SINK: 'http', LAYERS_SECRET_SINK_URL: 'https://crm.example/s' },
      /^LAYERS_SECRET_SINK_HMAC_KEY: required/,
    ],
    [
      {
        LAYERS_SECRET_SINK: 'http',
        LAYERS_SECRET_SINK_URL: 'https://crm.example/s',
        LAYERS_SECRET_SINK_HMAC_KEY: 'short-key',
      },
      /^LAYERS_SECRET_SINK_HMAC_KEY: must be at least 32 characters/,
    ],
    [
      {
        LAYERS_SECRET_SINK: 'http',
        LAYERS_SECRET_SINK_URL: 'https://crm.example/s',
        LAYERS_SECRET_SINK_HMAC_KEY: KEY,
        LAYERS_SECRET_SINK_HMAC_KEY_FILE: '/x',
      },
      /^LAYERS_SECRET_SINK_HMAC_KEY_FILE: set either/,
    ],
    [
      {
        LAYERS_SECRET_SINK: 'http',
        LAYERS_SECRET_SINK_URL: 'https://crm.example/s',
        LAYERS_SECRET_SINK_HMAC_KEY_FILE: '/nonexistent/hmac',
      },
      /^LAYERS_SECRET_SINK_HMAC_KEY_FILE: cannot read/,
    ],
  ])('one clear line naming the variable: %o', (env, message) => {
    let error: unknown;
    try {
      loadLayersConfig({ ...base, ...env });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('short-key');
  });
});
