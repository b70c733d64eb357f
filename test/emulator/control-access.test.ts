/**
 * Who may use the control API (issue "Security hardening", item 4): loopback peers only, a loopback
 * Host only (DNS rebinding), no foreign Origin, and the control token when one is configured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { isLoopbackAddress, isLoopbackHost } from '../../emulator/control/access';
import { emulatorControl } from '../helpers/emulator';
import { expectError, waitFor, type Res } from './helpers';

interface RawOptions {
  method?: string;
  /** The address to connect to (default 127.0.0.1). */
  connect?: string;
  headers?: Record<string, string>;
}

/** A request with full control over Host and the peer address (fetch does not let a caller set Host). */
function raw(port: number, reqPath: string, opts: RawOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.connect ?? '127.0.0.1',
        port,
        path: reqPath,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const portOf = (emu: RunningEmulator): number => Number(new URL(emu.url).port);

describe('the predicates', () => {
  test('loopback peers: 127.0.0.0/8, ::1 and IPv4-mapped 127.x; nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['192.0.2.2', '10.0.0.1', '::ffff:192.0.2.2', 'fd00::2', '0.0.0.0', '::', undefined]) {
      expect(isLoopbackAddress(a)).toBe(false);
    }
  });

  test('loopback Host headers: localhost, 127.x.y.z, [::1], with or without a port', () => {
    for (const h of [
      'localhost',
      'localhost:4010',
      'LOCALHOST:1',
      '127.0.0.1',
      '127.9.9.9:4010',
      '[::1]',
      '[::1]:4010',
    ]) {
      expect(isLoopbackHost(h)).toBe(true);
    }
    for (const h of [
      'evil.example',
      'evil.example:4010',
      '127.0.0.1.evil.example',
      'localhost.evil.example',
      '192.0.2.2:4010',
      '[fd00::2]:1',
      '',
      undefined,
    ]) {
      expect(isLoopbackHost(h)).toBe(false);
    }
  });
});

describe('an emulator without a control token', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ port: 0, quiet: true });
  });
  afterAll(async () => {
    await emu.close();
  });

  test('Host: evil.example (a DNS-rebinding page) is refused with 403 and the error envelope', async () => {
    const r = await raw(portOf(emu), '/_emulator/state', { headers: { host: 'evil.example' } });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { reason: 'control_api_host' });
    const reset = await raw(portOf(emu), '/_emulator/reset', {
      method: 'POST',
      headers: { host: `evil.example:${portOf(emu)}` },
    });
    expectError(reset, 403, 'FORBIDDEN_SCOPE', { reason: 'control_api_host' });
  });

  test('loopback Host names are served', async () => {
    for (const host of [`localhost:${portOf(emu)}`, `127.0.0.1:${portOf(emu)}`, '[::1]', '127.0.0.2']) {
      const r = await raw(portOf(emu), '/_emulator/state', { headers: { host } });
      expect({ host, status: r.status }).toEqual({ host, status: 200 });
    }
  });

  test('a foreign Origin is refused; a loopback Origin is served', async () => {
    const foreign = await raw(portOf(emu), '/_emulator/reset', {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    expectError(foreign, 403, 'FORBIDDEN_SCOPE', { reason: 'control_api_origin' });
    const local = await raw(portOf(emu), '/_emulator/state', {
      headers: { origin: `http://localhost:${portOf(emu)}` },
    });
    expect(local.status).toBe(200);
  });

  test('the /v1 API is not subject to the control checks (its keys guard it)', async () => {
    const r = await raw(portOf(emu), '/v1/whoami', {
      headers: { host: 'api.example', authorization: `Bearer ${emu.parentKey}` },
    });
    expect(r.status).toBe(200);
  });

  test('the test helpers keep working without a token', async () => {
    const control = emulatorControl(emu.url);
    expect((await control.state()).parentOrganizationId).toBe(emu.parentOrganizationId);
    await control.reset();
  });
});

const external = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;

// Needs an address of this machine that is not loopback; every CI and dev machine with a network has one.
(external ? test : test.skip)(
  'a peer that is not loopback is refused, even with a loopback Host',
  async () => {
    const emu = await startEmulator({ port: 0, quiet: true, host: external });
    try {
      const r = await raw(portOf(emu), '/_emulator/state', {
        connect: external,
        headers: { host: `localhost:${portOf(emu)}` },
      });
      expectError(r, 403, 'FORBIDDEN_SCOPE', { reason: 'control_api_loopback_only' });
      const api = await raw(portOf(emu), '/v1/whoami', {
        connect: external,
        headers: { authorization: `Bearer ${emu.parentKey}` },
      });
      expect(api.status).toBe(200);
    } finally {
      await emu.close();
    }
  },
);

describe('an emulator with a control token', () => {
  const TOKEN = 'ctl-0123456789abcdef';
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ port: 0, quiet: true, controlToken: TOKEN });
  });
  afterAll(async () => {
    await emu.close();
  });

  test('refuses every control route without the token (401), or with a wrong one', async () => {
    expectError(await raw(portOf(emu), '/_emulator/state'), 401, 'UNAUTHENTICATED', { reason: 'missing' });
    expectError(await raw(portOf(emu), '/_emulator/reset', { method: 'POST' }), 401, 'UNAUTHENTICATED');
    const wrong = await raw(portOf(emu), '/_emulator/state', {
      headers: { 'x-emulator-token': `${TOKEN}x` },
    });
    expectError(wrong, 401, 'UNAUTHENTICATED', { reason: 'invalid' });
    const parentKey = await raw(portOf(emu), '/_emulator/state', {
      headers: { authorization: `Bearer ${emu.parentKey}` },
    });
    expectError(parentKey, 401, 'UNAUTHENTICATED', { reason: 'invalid' });
    await expect(emulatorControl(emu.url).state()).rejects.toThrow(/401/);
  });

  test('accepts it as Authorization: Bearer or X-Emulator-Token', async () => {
    const bearer = await raw(portOf(emu), '/_emulator/state', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bearer.status).toBe(200);
    expect(bearer.body.parentOrganizationId).toBe(emu.parentOrganizationId);
    const header = await raw(portOf(emu), '/_emulator/reset', {
      method: 'POST',
      headers: { 'x-emulator-token': TOKEN },
    });
    expect(header.body).toMatchObject({ reset: true });
  });

  test('the token does not replace the Host check', async () => {
    const r = await raw(portOf(emu), '/_emulator/state', {
      headers: { host: 'evil.example', 'x-emulator-token': TOKEN },
    });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { reason: 'control_api_host' });
  });
});

describe('the CLI', () => {
  let proc: ChildProcess | undefined;
  afterEach(() => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });

  test('reads EMULATOR_CONTROL_TOKEN', async () => {
    const token = 'cli-token-value';
    proc = spawn(process.execPath, ['--import', 'tsx', 'emulator/main.ts', '--port', '0', '--quiet'], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, EMULATOR_CONTROL_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    const url = await waitFor(async () => /LAYERS_BASE_URL=(\S+)/.exec(out)?.[1], 30_000, 'the CLI to start');
    const port = Number(new URL(url).port);
    expectError(await raw(port, '/_emulator/state'), 401, 'UNAUTHENTICATED');
    expect((await raw(port, '/_emulator/state', { headers: { 'x-emulator-token': token } })).status).toBe(
      200,
    );
    expect(out).not.toContain(token);
  }, 60_000);
});
