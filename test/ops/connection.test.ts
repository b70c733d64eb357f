import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  connectWithRetry,
  isUnavailable,
  loadTemporalConfig,
  temporalConnectionOptions,
} from '../../common/connection';

const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-config-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, 0o600);
  return p;
};
const cert = file('client.pem', 'CERT');
const key = file('client.key', 'KEY');
const ca = file('ca.pem', 'CA');

describe('Temporal settings (@temporalio/envconfig, as the temporal CLI reads them)', () => {
  test('defaults', () => {
    expect(loadTemporalConfig({})).toEqual({
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'layers-onboarding',
    });
    expect(temporalConnectionOptions(loadTemporalConfig({}))).toEqual({ address: 'localhost:7233' });
  });

  test("Temporal's names and this project's earlier names both set mTLS", () => {
    const expected = {
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      serverRootCACertificate: Buffer.from('CA'),
      serverNameOverride: 'ns.tmprl.cloud',
    };
    const canonical = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'ns.tmprl.cloud',
    });
    const aliases = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CERT_PATH: cert,
      TEMPORAL_TLS_KEY_PATH: key,
      TEMPORAL_TLS_CA_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'ns.tmprl.cloud',
    });
    expect(canonical.tls).toEqual(expected);
    expect(aliases.tls).toEqual(expected);
    expect(temporalConnectionOptions(aliases).tls).toEqual(expected);
  });

  test('an API key implies TLS; TEMPORAL_TLS=false turns it off; gRPC metadata passes through', () => {
    expect(temporalConnectionOptions(loadTemporalConfig({ TEMPORAL_API_KEY: 'k-123' }))).toEqual({
      address: 'localhost:7233',
      apiKey: 'k-123',
      tls: true,
    });
    expect(
      temporalConnectionOptions(loadTemporalConfig({ TEMPORAL_API_KEY: 'k-123', TEMPORAL_TLS: 'false' })).tls,
    ).toBe(false);
    expect(loadTemporalConfig({ TEMPORAL_GRPC_META_X_TENANT: 'quinn' }).metadata).toEqual({
      'x-tenant': 'quinn',
    });
  });

  test('a temporal.toml profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE); the environment overrides it', () => {
    const toml = file(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "127.0.0.1:7233"',
        '',
        '[profile.prod]',
        'address = "prod.acct.tmprl.cloud:7233"',
        'namespace = "prod.acct"',
        'api_key = "prod-key"',
        '[profile.prod.tls]',
        `server_ca_cert_path = "${ca}"`,
        '',
      ].join('\n'),
    );
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: toml }).address).toBe('127.0.0.1:7233');
    const prod = loadTemporalConfig({
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_TASK_QUEUE: 'q',
    });
    expect(prod).toMatchObject({
      address: 'prod.acct.tmprl.cloud:7233',
      namespace: 'prod.acct',
      taskQueue: 'q',
      apiKey: 'prod-key',
    });
    expect(prod.tls).toEqual({ serverRootCACertificate: Buffer.from('CA') });
    expect(
      loadTemporalConfig({
        TEMPORAL_CONFIG_FILE: toml,
        TEMPORAL_PROFILE: 'prod',
        TEMPORAL_NAMESPACE: 'other',
      }).namespace,
    ).toBe('other');
    // The profile file is looked for where the CLI keeps it ($XDG_CONFIG_HOME/temporalio/temporal.toml) too.
    const xdg = mkdtempSync(path.join(os.tmpdir(), 'xdg-'));
    mkdirSync(path.join(xdg, 'temporalio'));
    writeFileSync(
      path.join(xdg, 'temporalio', 'temporal.toml'),
      '[profile.default]\naddress = "10.0.0.7:7233"\n',
    );
    expect(loadTemporalConfig({ XDG_CONFIG_HOME: xdg }).address).toBe('10.0.0.7:7233');
  });

  test.each([
    [{ TEMPORAL_ADDRESS: 'no-port' }, /^TEMPORAL_ADDRESS: must be host:port/],
    [{ TEMPORAL_TASK_QUEUE: ' ' }, /^TEMPORAL_TASK_QUEUE: must not be empty/],
    [{ TEMPORAL_TLS_CERT_PATH: cert }, /^TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS needs both/],
    [
      { TEMPORAL_TLS_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_CERT_PATH: key, TEMPORAL_TLS_KEY_PATH: key },
      /^TEMPORAL_TLS_CERT_PATH: conflicts with TEMPORAL_TLS_CLIENT_CERT_PATH/,
    ],
    [
      { TEMPORAL_TLS_CA_PATH: '/nonexistent/ca.pem' },
      /^TEMPORAL_TLS_CA_PATH: cannot read \/nonexistent\/ca.pem \(ENOENT\)/,
    ],
    [
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' },
      /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read/,
    ],
    [
      { TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml'), TEMPORAL_PROFILE: 'prod' },
      /^TEMPORAL_PROFILE: Profile 'prod' not found/,
    ],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(() => loadTemporalConfig(env)).toThrow(ConfigError);
    expect(() => loadTemporalConfig(env)).toThrow(message);
  });

  test('a broken profile file names TEMPORAL_CONFIG_FILE and the position, never its contents (it may hold api_key)', () => {
    const bad = file('bad.toml', '[profile.default]\napi_key = "tmprl-key-0123456789\naddress = "x:1"\n');
    expect(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: bad })).toThrow(
      `TEMPORAL_CONFIG_FILE: ${bad} is not valid TOML (line 2, column`,
    );
    expect(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: bad })).not.toThrow(/tmprl-key/);
    const unreadable = path.join(dir, 'a-directory');
    mkdirSync(unreadable);
    expect(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: unreadable })).toThrow(
      `TEMPORAL_CONFIG_FILE: cannot read the Temporal profile file ${unreadable} (EISDIR)`,
    );
  });
});

describe('connectWithRetry', () => {
  test('waits for an unreachable server with backoff, one log line per failed attempt', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    let attempts = 0;
    const refused = Object.assign(new Error('tcp connect error: Connection refused'), {
      name: 'TransportError',
    });
    const result = await connectWithRetry(
      async () => {
        attempts++;
        if (attempts < 4) throw refused;
        return 'connected';
      },
      {
        target: '127.0.0.1:1',
        initialDelayMs: 10,
        maxDelayMs: 40,
        logger: { warn: (fields, message) => lines.push({ fields, message }) },
      },
    );
    expect(result).toBe('connected');
    expect(lines.map((l) => l.fields.attempt)).toEqual([1, 2, 3]);
    expect(lines[0]!.message).toMatch(
      /^Temporal at 127\.0\.0\.1:1 unreachable \(attempt 1\); retrying in \d+ ms$/,
    );
    const delays = lines.map((l) => l.fields.retryInMs as number);
    expect(delays[2]!).toBeGreaterThan(delays[0]!); // backs off (10 → 20 → 40, ±20 %)
    expect(Math.max(...delays)).toBeLessThanOrEqual(48);
  });

  test('other errors (bad credentials, bad TLS) are thrown at once', async () => {
    let attempts = 0;
    await expect(
      connectWithRetry(
        async () => {
          attempts++;
          throw Object.assign(new Error('Request unauthorized'), { code: 16 });
        },
        { target: 'x:1', initialDelayMs: 1 },
      ),
    ).rejects.toThrow('Request unauthorized');
    expect(attempts).toBe(1);
  });

  test('a real refused connection counts as unavailable, for the worker and the client connection', async () => {
    const { NativeConnection } = await import('@temporalio/worker');
    const { Connection } = await import('@temporalio/client');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const err = await NativeConnection.connect({ address: `127.0.0.1:${port}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUnavailable(err)).toBe(true);
    const clientErr = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUnavailable(clientErr)).toBe(true);
  });
});
