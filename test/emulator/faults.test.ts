/**
 * Seeded fault injection (POST/DELETE /_emulator/faults): determinism for a given seed, 500 before
 * executing stores nothing, commit-then-drop really commits (and a same-key retry replays), 429s,
 * latency, pattern matching.
 */
import { randomUUID } from 'node:crypto';
import { expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const ALLOCATE = '/v1/organizations/:orgId/credits/allocate';

async function outcomes(seed: number | string, n: number): Promise<string[]> {
  const set = await h.control('POST', '/_emulator/faults', {
    seed,
    rules: [{ method: 'GET', path: '/v1/whoami', beforeError: 0.3, rateLimited: 0.2, latencyMs: [0, 3] }],
  });
  expect(set.status).toBe(200);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(String((await h.get('/v1/whoami')).status));
  const history = (await h.control('GET', '/_emulator/faults')).body.history;
  return out.map((s, i) => `${s}/${history[i].latencyMs}`);
}

test('the same seed gives the same faults, in the same order', async () => {
  const a = await outcomes(42, 40);
  const b = await outcomes(42, 40);
  expect(b).toEqual(a);
  expect(a.some((x) => x.startsWith('500'))).toBe(true);
  expect(a.some((x) => x.startsWith('429'))).toBe(true);
  expect(a.some((x) => x.startsWith('200'))).toBe(true);
  const c = await outcomes(43, 40);
  expect(c).not.toEqual(a);
  expect(await outcomes('seed-as-string', 10)).toEqual(await outcomes('seed-as-string', 10));
});

test('afterCommitDrop: the client sees a socket error, the transfer committed, a same-key retry replays', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 5,
    rules: [{ method: 'POST', path: ALLOCATE, afterCommitDrop: 1 }],
  });
  const key = randomUUID();
  await expect(h.allocate(child.id, 5000, { idem: key })).rejects.toThrow();
  const s = await h.state();
  expect(s.transfers).toHaveLength(1);
  expect(s.wallets.find((w: Body) => w.organizationId === child.id).balance).toBe(5000);
  expect(s.requests.byRoute[`POST ${ALLOCATE}`]).toEqual({ dropped: 1 });

  await h.control('DELETE', '/_emulator/faults');
  const retry = await h.allocate(child.id, 5000, { idem: key });
  expect(retry.status).toBe(200);
  expect(retry.body).toMatchObject({ id: s.transfers[0].id, allocated: 5000, balance: 5000, replayed: true });
  expect((await h.state()).transfers).toHaveLength(1);
});

test('a blind retry without the same key after a drop double-funds (why the key matters)', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 5,
    rules: [{ method: 'POST', path: ALLOCATE, afterCommitDrop: 1 }],
  });
  await expect(h.allocate(child.id, 100)).rejects.toThrow();
  await h.control('DELETE', '/_emulator/faults');
  await h.allocate(child.id, 100); // a fresh key: executes again
  expect((await h.wallet(child.id)).balance).toBe(200);
});

test('beforeError: 500 PLATFORM_ERROR, nothing executed and nothing stored under the key', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 9,
    rules: [{ method: 'POST', path: ALLOCATE, beforeError: 1 }],
  });
  const key = randomUUID();
  expectError(await h.allocate(child.id, 10, { idem: key }), 500, 'PLATFORM_ERROR', { injected: true });
  expect((await h.state()).transfers).toHaveLength(0);
  await h.control('DELETE', '/_emulator/faults');
  const retry = await h.allocate(child.id, 10, { idem: key });
  expect(retry.status).toBe(200);
  expect(retry.body.replayed).toBeUndefined();
  expect((await h.state()).transfers).toHaveLength(1);
});

test('rateLimited: 429 RATE_LIMITED with Retry-After, nothing executed', async () => {
  await h.control('POST', '/_emulator/faults', {
    seed: 1,
    rules: [{ method: 'POST', path: '/v1/organizations', rateLimited: 1 }],
  });
  const r = await h.post('/v1/organizations', { name: 'x' });
  expectError(r, 429, 'RATE_LIMITED');
  expect(r.headers.get('retry-after')).toBe('1');
  expect(r.headers.get('x-ratelimit-endpoint-class')).toBe('write-light');
  expect((await h.state()).organizations).toHaveLength(1);
});

test('latencyMs delays the response within [min, max]; rules only hit matching routes; DELETE clears', async () => {
  await h.control('POST', '/_emulator/faults', {
    seed: 3,
    rules: [{ method: '*', path: '/v1/whoami', latencyMs: [150, 200] }],
  });
  let t = Date.now();
  expect((await h.get('/v1/whoami')).status).toBe(200);
  expect(Date.now() - t).toBeGreaterThanOrEqual(145);
  t = Date.now();
  await h.get('/v1/organizations'); // not matched
  expect(Date.now() - t).toBeLessThan(150);
  await h.control('DELETE', '/_emulator/faults');
  t = Date.now();
  await h.get('/v1/whoami');
  expect(Date.now() - t).toBeLessThan(150);
  expect((await h.control('GET', '/_emulator/faults')).body.rules).toEqual([]);
});

test('"*" matches any route and prefix patterns ending in * match a subtree', async () => {
  await h.control('POST', '/_emulator/faults', {
    seed: 3,
    rules: [{ path: '/v1/organizations*', beforeError: 1 }],
  });
  expectError(await h.get('/v1/organizations'), 500, 'PLATFORM_ERROR');
  expect((await h.get('/v1/whoami')).status).toBe(200);
  await h.control('POST', '/_emulator/faults', {
    seed: 3,
    rules: [{ method: '*', path: '*', beforeError: 1 }],
  });
  expectError(await h.get('/v1/whoami'), 500, 'PLATFORM_ERROR');
  expect((await h.control('GET', '/_emulator/state')).status).toBe(200); // the control API is never faulted
});

test('invalid fault plans are 422', async () => {
  expectError(
    await h.control('POST', '/_emulator/faults', { seed: 1, rules: [{ beforeError: 2 }] }),
    422,
    'VALIDATION',
  );
  expectError(
    await h.control('POST', '/_emulator/faults', { seed: 1, rules: [{ latencyMs: [5, 1] }] }),
    422,
    'VALIDATION',
  );
  expectError(await h.control('POST', '/_emulator/faults', { seed: 1 }), 422, 'VALIDATION', {
    field: 'rules',
  });
});

test('firstAttemptOnly: only the first request of each Idempotency-Key is dropped; its retry replays', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 1,
    rules: [{ method: 'POST', path: ALLOCATE, afterCommitDrop: 1, firstAttemptOnly: true }],
  });
  const key = randomUUID();
  await expect(h.allocate(child.id, 300, { idem: key })).rejects.toThrow();
  const retry = await h.allocate(child.id, 300, { idem: key });
  expect(retry.body).toMatchObject({ allocated: 300, replayed: true });
  // A second request with another key is its own first attempt: dropped too.
  await expect(h.allocate(child.id, 200, { idem: randomUUID() })).rejects.toThrow();
  const s = await h.state();
  expect(s.transfers.map((t: Body) => t.credits)).toEqual([300, 200]);
  expect(s.requests.byRoute[`POST ${ALLOCATE}`]).toEqual({ dropped: 2, 200: 1 });
  await h.control('DELETE', '/_emulator/faults');
});

test('respondWith: a documented error answered instead of executing; unknown codes are refused', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 1,
    rules: [
      {
        method: 'POST',
        path: ALLOCATE,
        respondWith: { code: 'VALIDATION', message: 'credits: exceeds the per-transfer limit' },
      },
    ],
  });
  expectError(await h.allocate(child.id, 10), 422, 'VALIDATION', { injected: true });
  expect((await h.state()).transfers).toHaveLength(0);
  const bad = await h.control('POST', '/_emulator/faults', {
    seed: 1,
    rules: [{ path: ALLOCATE, respondWith: { code: 'TEAPOT', message: 'x' } }],
  });
  expect(bad.status).toBe(422);
  expect(JSON.stringify(bad.body)).toContain('rules[0].respondWith.code');
  await h.control('DELETE', '/_emulator/faults');
});
