/**
 * Persistence (--data-dir / dataDir): state survives a restart (idempotent replays included), writes
 * are atomic (no torn state after SIGKILL), and the CLI honors its flags and environment variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../emulator';
import { ACME, waitFor } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
/** Spawned processes, killed after each test whatever happened. */
const spawned: ChildProcess[] = [];

async function call(
  url: string,
  key: string,
  method: string,
  p: string,
  body?: unknown,
  idem?: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (idem) headers['idempotency-key'] = idem;
  const r = await fetch(`${url}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-emu-'));
});
afterEach(() => {
  for (const p of spawned.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('state, parent identity and idempotency records survive a restart', async () => {
  const a = await startEmulator({ port: 0, quiet: true, dataDir: tmp });
  const child = await call(a.url, a.parentKey, 'POST', '/v1/organizations', ACME);
  const key = randomUUID();
  const first = await call(
    a.url,
    a.parentKey,
    'POST',
    `/v1/organizations/${child.body.id}/credits/allocate`,
    { credits: 5000 },
    key,
  );
  expect(first.status).toBe(200);
  const ids = { parentKey: a.parentKey, parentOrganizationId: a.parentOrganizationId };
  await a.close();
  expect(fs.readdirSync(tmp)).toEqual(['emulator-state.json']);

  const b = await startEmulator({ port: 0, quiet: true, dataDir: tmp });
  try {
    expect({ parentKey: b.parentKey, parentOrganizationId: b.parentOrganizationId }).toEqual(ids);
    const got = await call(b.url, b.parentKey, 'GET', `/v1/organizations/${child.body.id}`);
    expect(got.body.summary).toMatchObject({ balance: 5000, available: 5000 });
    const replay = await call(
      b.url,
      b.parentKey,
      'POST',
      `/v1/organizations/${child.body.id}/credits/allocate`,
      { credits: 5000 },
      key,
    );
    expect(replay.body).toEqual({ ...first.body, replayed: true });
    const s = (await (await fetch(`${b.url}/_emulator/state`)).json()) as {
      transfers: unknown[];
      totals: { holds: boolean };
    };
    expect(s.transfers).toHaveLength(1);
    expect(s.totals.holds).toBe(true);
  } finally {
    await b.close();
  }
});

test('an explicit parentKey is honored against a persisted state', async () => {
  const a = await startEmulator({ port: 0, quiet: true, dataDir: tmp });
  const orgId = a.parentOrganizationId;
  await a.close();
  const explicit = 'lp_live_ABCDEFGHJKMNPQRS_explicitexplicitexplicitexplici';
  const b = await startEmulator({ port: 0, quiet: true, dataDir: tmp, parentKey: explicit });
  try {
    expect(b.parentKey).toBe(explicit);
    expect(b.parentOrganizationId).toBe(orgId);
    expect((await call(b.url, explicit, 'GET', '/v1/whoami')).body.organizationId).toBe(orgId);
  } finally {
    await b.close();
  }
});

function startCli(
  args: string[],
  env: Record<string, string> = {},
): { proc: ChildProcess; ready: Promise<{ url: string; key: string }>; out: () => string } {
  // `node --import tsx` (not the .bin/tsx wrapper, which forks a second node) so signals reach the emulator itself.
  const proc = spawn(process.execPath, ['--import', 'tsx', 'emulator/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(proc);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const ready = waitFor(
    async () => {
      const url = /LAYERS_BASE_URL=(\S+)/.exec(out)?.[1];
      const key = /LAYERS_PARENT_KEY=(\S+)/.exec(out)?.[1];
      return url && key ? { url, key } : undefined;
    },
    30_000,
    'the CLI to print its base URL and key',
  );
  return { proc, ready, out: () => out };
}

const exited = (proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));

test('CLI: prints base URL and parent key, honors env, survives SIGKILL without torn state, exits 0 on SIGTERM', async () => {
  const key = 'lp_live_ZZZZZZZZZZZZZZZZ_clitestclitestclitestclitestclit';
  const env = {
    LAYERS_EMULATOR_PARENT_KEY: key,
    LAYERS_EMULATOR_PARENT_CREDITS: '2500',
    LAYERS_EMULATOR_TIER: 'pilot',
  };
  const first = startCli(['--port', '0', '--host', '127.0.0.1', '--data-dir', tmp, '--quiet'], env);
  const { url, key: printed } = await first.ready;
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(printed).toBe(key);
  const who = await call(url, key, 'GET', '/v1/whoami');
  expect(who.body).toMatchObject({ creditBalance: 2500, rateLimitTier: 'pilot' });
  const child = await call(url, key, 'POST', '/v1/organizations', ACME);
  await call(
    url,
    key,
    'POST',
    `/v1/organizations/${child.body.id}/credits/allocate`,
    { credits: 1000 },
    randomUUID(),
  );
  const file = path.join(tmp, 'emulator-state.json');
  await waitFor(
    async () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(child.body.id),
    5000,
    'the debounced write',
  );
  // hammer it with writes and kill it mid-flight: the file must still parse
  const burst = Array.from({ length: 20 }, () =>
    call(url, key, 'POST', '/v1/organizations', { name: 'burst' }).catch(() => null),
  );
  const killed = exited(first.proc); // listen before killing: the exit may happen while the burst settles
  first.proc.kill('SIGKILL');
  await Promise.all(burst);
  expect((await killed).signal).toBe('SIGKILL');
  const persisted = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(persisted.orgs.some((o: { id: string }) => o.id === child.body.id)).toBe(true);

  const second = startCli(['--port', '0', '--data-dir', tmp, '--quiet'], env);
  const again = await second.ready;
  const got = await call(again.url, key, 'GET', `/v1/organizations/${child.body.id}`);
  expect(got.body.summary.balance).toBe(1000);
  const done = exited(second.proc);
  second.proc.kill('SIGTERM');
  expect(await done).toEqual({ code: 0, signal: null });
}, 60_000);
