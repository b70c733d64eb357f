/**
 * Idempotency exactly as CONTRACT.md states (plus the 003 reference): per-key scope, replay verbatim
 * with replayed: true on allocate, body mismatch, in-flight, what is and isn't stored, 24 h expiry,
 * and the 50-way concurrent same-key allocate that must move credits exactly once.
 */
import { randomUUID } from 'node:crypto';
import { ACME, ALLOCATE_Q3, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const allocPath = (id: string): string => `/v1/organizations/${id}/credits/allocate`;

test('a replay (same key + same body) returns the original result with replayed: true and moves nothing', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  const first = await h.post(allocPath(child.id), ALLOCATE_Q3, { idem: key });
  expect(first.status).toBe(200);
  expect(first.body.replayed).toBeUndefined();
  await h.allocate(child.id, 100); // the live balance moves on…
  const replay = await h.post(allocPath(child.id), ALLOCATE_Q3, { idem: key });
  expect(replay.status).toBe(200);
  expect(replay.body).toEqual({ ...first.body, replayed: true }); // …the replay is verbatim
  const s = await h.state();
  expect(s.transfers).toHaveLength(2);
  expect(s.wallets.find((w: Body) => w.organizationId === child.id).balance).toBe(5100);
});

test('bodies are compared as parsed JSON: key order and whitespace do not matter', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  await h.call('POST', allocPath(child.id), { raw: '{"credits":5,"description":"x"}', idem: key });
  const replay = await h.call('POST', allocPath(child.id), {
    raw: '{ "description": "x",\n "credits": 5 }',
    idem: key,
  });
  expect(replay.status).toBe(200);
  expect(replay.body.replayed).toBe(true);
  expect((await h.state()).transfers).toHaveLength(1);
});

test('same key, different body → 409 IDEMPOTENCY_CONFLICT body_mismatch (also for another path or org)', async () => {
  const a = await h.createChild({ name: 'a' });
  const b = await h.createChild({ name: 'b' });
  const key = randomUUID();
  await h.allocate(a.id, 10, { idem: key });
  expectError(await h.allocate(a.id, 11, { idem: key }), 409, 'IDEMPOTENCY_CONFLICT', {
    reason: 'body_mismatch',
  });
  expectError(await h.allocate(b.id, 10, { idem: key }), 409, 'IDEMPOTENCY_CONFLICT', {
    reason: 'body_mismatch',
  });
  expect((await h.state()).transfers).toHaveLength(1);
});

test('keys are scoped per API key: another key may reuse the same Idempotency-Key', async () => {
  const child = await h.createChild();
  const second = await h.control('POST', '/_emulator/keys', { scopes: ['org:admin'] });
  const key = randomUUID();
  expect((await h.allocate(child.id, 10, { idem: key })).status).toBe(200);
  const other = await h.allocate(child.id, 10, { idem: key, key: second.body.secret });
  expect(other.status).toBe(200);
  expect(other.body.replayed).toBeUndefined();
  expect((await h.state()).transfers).toHaveLength(2);
});

test('a 402 is stored and replays as 402 even after the parent is topped up', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  expectError(await h.allocate(child.id, 150_000, { idem: key }), 402, 'BILLING_EXHAUSTED');
  await h.control('POST', '/_emulator/parent/credits', { credits: 100_000 });
  const replay = await h.allocate(child.id, 150_000, { idem: key });
  expectError(replay, 402, 'BILLING_EXHAUSTED');
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect((await h.state()).transfers).toHaveLength(0);
  expect((await h.allocate(child.id, 150_000)).status).toBe(200); // a fresh key executes
});

test('404 and 409 CONFLICT outcomes are stored too', async () => {
  const child = await h.createChild();
  const k404 = randomUUID();
  const other = await h.control('POST', '/_emulator/parents', {});
  const theirs = await h.post('/v1/organizations', { name: 't' }, { key: other.body.key });
  expectError(await h.allocate(theirs.body.id, 1, { idem: k404 }), 404, 'NOT_FOUND');
  expectError(await h.allocate(theirs.body.id, 1, { idem: k404 }), 404, 'NOT_FOUND');
  expect((await h.state()).idempotencyKeys).toBeGreaterThanOrEqual(1);

  const k409 = randomUUID();
  await h.del(`/v1/organizations/${child.id}`);
  const first = await h.allocate(child.id, 1, { idem: k409 });
  expectError(first, 409, 'CONFLICT');
  const replay = await h.allocate(child.id, 1, { idem: k409 });
  expect(replay.body).toEqual(first.body); // verbatim, original requestId included
  expect(replay.headers.get('x-request-id')).not.toBe(first.body.error.requestId);
});

test('401, 422, 429 and 503 are never stored: the same key later executes (a 400 has no key to store under)', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  // 422: not stored, so the same key with a corrected body executes
  expectError(await h.allocate(child.id, 0, { idem: key }), 422, 'VALIDATION');
  expect((await h.allocate(child.id, 5, { idem: key })).status).toBe(200);

  const k401 = randomUUID();
  expectError(
    await h.allocate(child.id, 5, { idem: k401, key: 'lp_live_XXXXXXXXXXXXXXXX_bad' }),
    401,
    'UNAUTHENTICATED',
  );
  expect((await h.allocate(child.id, 5, { idem: k401 })).status).toBe(200);

  const k503 = randomUUID();
  await h.control('POST', '/_emulator/kill-switch', { on: true });
  expectError(await h.allocate(child.id, 5, { idem: k503 }), 503, 'KILL_SWITCH');
  await h.control('POST', '/_emulator/kill-switch', { on: false });
  expect((await h.allocate(child.id, 5, { idem: k503 })).body.replayed).toBeUndefined();

  const k429 = randomUUID();
  await h.control('POST', '/_emulator/rate-limits', {
    tier: 'one',
    limits: { read: 10, write: 1, longRunning: 1 },
  });
  await h.post('/v1/organizations', { name: 'burn the token' });
  expectError(await h.allocate(child.id, 5, { idem: k429 }), 429, 'RATE_LIMITED');
  await h.control('POST', '/_emulator/rate-limits', { tier: 'partner' });
  expect((await h.allocate(child.id, 5, { idem: k429 })).body.replayed).toBeUndefined();
  expect((await h.state()).transfers).toHaveLength(4);
});

test('keys expire after 24 hours (emulator clock): the same key then executes afresh', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  await h.allocate(child.id, 10, { idem: key });
  await h.advance(24 * 60 * 60 * 1000 - 1000);
  expect((await h.allocate(child.id, 10, { idem: key })).body.replayed).toBe(true);
  await h.advance(1000);
  const fresh = await h.allocate(child.id, 10, { idem: key });
  expect(fresh.status).toBe(200);
  expect(fresh.body.replayed).toBeUndefined();
  expect((await h.state()).transfers).toHaveLength(2);
});

test('a second request while the first is still executing → 409 in_flight', async () => {
  const child = await h.createChild();
  await h.control('POST', '/_emulator/faults', {
    seed: 7,
    rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [300, 300] }],
  });
  const key = randomUUID();
  const slow = h.allocate(child.id, 10, { idem: key });
  const probe = await (async () => {
    // wait until the first request holds the key (bounded)
    for (let i = 0; i < 100; i++) {
      const r = await h.allocate(child.id, 10, { idem: key });
      if (r.status === 409) return r;
    }
    throw new Error('never saw in_flight');
  })();
  expectError(probe, 409, 'IDEMPOTENCY_CONFLICT', { reason: 'in_flight' });
  expect((await slow).status).toBe(200);
  await h.control('DELETE', '/_emulator/faults');
  expect((await h.allocate(child.id, 10, { idem: key })).body.replayed).toBe(true);
  expect((await h.state()).transfers).toHaveLength(1);
});

test('honored on POST /v1/organizations: a retry returns the same org instead of a second one', async () => {
  const key = randomUUID();
  const a = await h.post('/v1/organizations', ACME, { idem: key });
  const b = await h.post('/v1/organizations', ACME, { idem: key });
  expect(b.status).toBe(201);
  expect(b.body).toEqual(a.body);
  expect((await h.state()).organizations).toHaveLength(2);
});

test('honored on api-key minting: the replay returns the same key (and secret) instead of a second key', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  const body = { name: 'acme-integration', scopes: ['content:read'] };
  const a = await h.post(`/v1/organizations/${child.id}/api-keys`, body, { idem: key });
  const b = await h.post(`/v1/organizations/${child.id}/api-keys`, body, { idem: key });
  expect(b.body).toEqual(a.body);
  expect((await h.state()).apiKeys.filter((k: Body) => k.organizationId === child.id)).toHaveLength(1);
});

test('the Idempotency-Key must be a UUID (422, not stored)', async () => {
  const child = await h.createChild();
  expectError(await h.allocate(child.id, 1, { idem: 'onboard-acme-allocate' }), 422, 'VALIDATION', {
    field: 'Idempotency-Key',
  });
  expect((await h.state()).transfers).toHaveLength(0);
});

describe('concurrency', () => {
  test('50 parallel allocates with the same key and body move credits exactly once', async () => {
    const child = await h.createChild();
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.post(allocPath(child.id), ALLOCATE_Q3, { idem: key })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length + results.filter((r) => r.status === 409).length).toBe(50);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    expect(ok.filter((r) => r.body.replayed !== true)).toHaveLength(1);
    const s = await h.state();
    expect(s.transfers).toHaveLength(1);
    expect(s.ledger.filter((e: Body) => e.eventType === 'allocation')).toHaveLength(2);
    expect(s.wallets.find((w: Body) => w.organizationId === child.id).balance).toBe(5000);
    expect(s.wallets.find((w: Body) => w.organizationId === h.parentId).balance).toBe(95_000);
  });

  test('…and while the first is still executing, the others get in_flight (never a second transfer)', async () => {
    const child = await h.createChild();
    await h.control('POST', '/_emulator/faults', {
      seed: 1,
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [200, 200] }],
    });
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.post(allocPath(child.id), ALLOCATE_Q3, { idem: key })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expectError(r, 409, 'IDEMPOTENCY_CONFLICT', { reason: 'in_flight' });
    }
    expect((await h.state()).transfers).toHaveLength(1);
  });
});

test('expired records are swept, not kept forever', async () => {
  const child = await h.createChild();
  const key = randomUUID();
  await h.allocate(child.id, 1, { idem: key });
  await h.advance(24 * 60 * 60 * 1000);
  h.emu.emulator.store.expireIdempotency();
  expect((await h.state()).idempotencyKeys).toBe(0);
});
