/**
 * Loopback throughput of the emulator: `npx tsx emulator/bench.ts [--requests 4000] [--concurrency 32]`.
 *
 * Starts the emulator as a separate process (unlimited tier, so no 429s), then drives it with an
 * undici keep-alive pool: GET /v1/whoami, then POST …/credits/allocate with a fresh Idempotency-Key
 * per request (the hot write path: auth, idempotency, two ledger events, a transfer). Bounded in
 * request count and in time (each phase stops after --max-seconds).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '32' },
    'max-seconds': { type: 'string', default: '20' },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const MAX_MS = Number(values['max-seconds']) * 1000;

async function startServer(): Promise<{ url: string; key: string; stop: () => void }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'main.ts'), '--port', '0', '--quiet'],
    {
      env: {
        ...process.env,
        LAYERS_EMULATOR_TIER: 'unlimited',
        LAYERS_EMULATOR_PARENT_CREDITS: '1000000000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${out}`)), 30_000);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /LAYERS_BASE_URL=(\S+)/.exec(out)?.[1];
      const key = /LAYERS_PARENT_KEY=(\S+)/.exec(out)?.[1];
      if (url && key) {
        clearTimeout(timer);
        resolve({ url, key, stop: () => proc.kill('SIGTERM') });
      }
    });
    proc.once('exit', (code) => reject(new Error(`emulator exited (${code}): ${out}`)));
  });
}

interface Phase {
  name: string;
  requests: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

async function phase(
  name: string,
  pool: Pool,
  make: () => Parameters<Pool['request']>[0],
  expected: number,
): Promise<Phase> {
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (sent < REQUESTS && performance.now() - start < MAX_MS) {
      sent++;
      const t = performance.now();
      const res = await pool.request(make());
      await res.body.dump();
      latencies.push(performance.now() - t);
      if (res.statusCode !== expected) errors++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(2));
  return {
    name,
    requests: latencies.length,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Math.round(latencies.length / seconds),
    p50ms: pct(0.5),
    p99ms: pct(0.99),
    errors,
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const pool = new Pool(server.url, { connections: CONCURRENCY, pipelining: 1 });
  const auth = { authorization: `Bearer ${server.key}` };
  try {
    const created = await pool.request({
      method: 'POST',
      path: '/v1/organizations',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench Coffee' }),
    });
    const child = (await created.body.json()) as { id: string };
    // warm-up
    await phase('warm-up', pool, () => ({ method: 'GET', path: '/v1/whoami', headers: auth }), 200);
    const results = [
      await phase('GET /v1/whoami', pool, () => ({ method: 'GET', path: '/v1/whoami', headers: auth }), 200),
      await phase(
        'POST /v1/organizations/:orgId/credits/allocate',
        pool,
        () => ({
          method: 'POST',
          path: `/v1/organizations/${child.id}/credits/allocate`,
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: '{"credits":1}',
        }),
        200,
      ),
    ];
    console.log(
      `node ${process.versions.node}, ${CONCURRENCY} keep-alive connections, loopback, unlimited tier`,
    );
    console.table(results);
  } finally {
    await pool.close();
    server.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
