/**
 * Authentication, whoami, the kill switch, X-Layers-Organization, rate-limit tiers, and the headers
 * every response carries (001 Organizations, 002 header rules, CONTRACT.md "Rate limits").
 */
import { ACME_PROJECT, REQ_ID, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();

describe('whoami', () => {
  test('resolves the key to its org and reports scopes, tier, balance and switches', async () => {
    const r = await h.get('/v1/whoami');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      organizationId: h.parentId,
      organizationName: expect.any(String),
      parentOrganizationId: null,
      scopes: ['org:admin', 'projects:read', 'projects:write', 'content:read', 'content:write'],
      rateLimitTier: 'partner',
      apiKeyId: expect.stringMatching(/^key_/),
      creditBalance: 100_000,
      killSwitch: false,
      apiAccessRevoked: false,
    });
  });

  test('kill switch on: whoami still answers 200 with killSwitch: true; every other call is 503', async () => {
    const child = await h.createChild();
    const ck = await h.mintKey(child.id);
    await h.control('POST', '/_emulator/kill-switch', { on: true });
    const who = await h.get('/v1/whoami');
    expect(who.status).toBe(200);
    expect(who.body.killSwitch).toBe(true);
    expect((await h.state()).killSwitch).toBe(true);
    for (const r of [
      await h.get('/v1/organizations'),
      await h.allocate(child.id, 1),
      await h.post('/v1/projects', ACME_PROJECT),
      await h.get('/v1/webhook-endpoints', { key: ck.secret }), // the whole tree is switched off
    ]) {
      expectError(r, 503, 'KILL_SWITCH', { scope: 'org' });
    }
    expect((await h.state()).transfers).toHaveLength(0);
    await h.control('POST', '/_emulator/kill-switch', { on: false });
    expect((await h.allocate(child.id, 1)).status).toBe(200);
  });

  test('apiAccessRevoked behaves like the kill switch', async () => {
    await h.control('POST', '/_emulator/kill-switch', { apiAccessRevoked: true });
    expect((await h.get('/v1/whoami')).body).toMatchObject({ apiAccessRevoked: true, killSwitch: false });
    expectError(await h.get('/v1/organizations'), 503, 'KILL_SWITCH');
  });
});

describe('X-Layers-Organization', () => {
  test('with an org:admin key, the request acts inside the named child', async () => {
    const child = await h.createChild();
    const r = await h.post('/v1/projects', ACME_PROJECT, { headers: { 'x-layers-organization': child.id } });
    expect(r.status).toBe(201);
    expect(r.body.organizationId).toBe(child.id);
    expect(
      (await h.get(`/v1/projects/${r.body.id}`, { headers: { 'x-layers-organization': child.id } })).status,
    ).toBe(200);
    // without the header the project is not in the parent org
    expectError(await h.get(`/v1/projects/${r.body.id}`), 404, 'NOT_FOUND');
  });

  test('a child that isn’t the caller’s → 404; a malformed header → 422; nothing created', async () => {
    const other = await h.control('POST', '/_emulator/parents', {});
    const theirs = await h.post('/v1/organizations', { name: 't' }, { key: other.body.key });
    expectError(
      await h.post('/v1/projects', ACME_PROJECT, { headers: { 'x-layers-organization': theirs.body.id } }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await h.post('/v1/projects', ACME_PROJECT, { headers: { 'x-layers-organization': 'acme' } }),
      422,
      'VALIDATION',
      {
        field: 'X-Layers-Organization',
      },
    );
    expect((await h.state()).projects).toHaveLength(0);
  });

  test('acting inside an archived child cannot create anything (409)', async () => {
    const child = await h.createChild();
    await h.del(`/v1/organizations/${child.id}`);
    expectError(
      await h.post('/v1/projects', ACME_PROJECT, { headers: { 'x-layers-organization': child.id } }),
      409,
      'CONFLICT',
    );
  });
});

describe('headers on every response', () => {
  test('X-Request-Id req_<ulid> and X-RateLimit-Endpoint-Class, errors and unknown routes included', async () => {
    const responses = [
      ['read-light', await h.get('/v1/whoami')],
      ['read-light', await h.get('/v1/whoami', { key: null })],
      ['read-light', await h.get('/v1/nope')],
      ['write-light', await h.post('/v1/nope', {})],
      ['write-light', await h.post('/v1/organizations', { name: '' })],
      ['write-light', await h.del('/v1/organizations/org_x')],
      ['write-light', await h.patch('/v1/organizations/org_x', {})],
      ['read-light', await h.get('/v1/_emulator/state')],
    ] as const;
    const ids = new Set<string>();
    for (const [cls, r] of responses) {
      expect(r.headers.get('x-request-id')).toMatch(REQ_ID);
      expect(r.headers.get('x-ratelimit-endpoint-class')).toBe(cls);
      ids.add(r.headers.get('x-request-id') as string);
    }
    expect(ids.size).toBe(responses.length);
    expectError(responses[2][1], 404, 'NOT_FOUND');
  });

  test('the control API is not served under /v1', async () => {
    expectError(await h.get('/v1/_emulator/state', { key: null }), 404, 'NOT_FOUND');
    expectError(await h.post('/v1/_emulator/reset', {}), 404, 'NOT_FOUND');
  });
});

describe('rate limits', () => {
  test('tiers: whoami names the tier; custom tiers via the control API', async () => {
    for (const tier of ['standard', 'pilot', 'unlimited', 'partner']) {
      await h.control('POST', '/_emulator/rate-limits', { tier });
      expect((await h.get('/v1/whoami')).body.rateLimitTier).toBe(tier);
    }
    const r = await h.control('POST', '/_emulator/rate-limits', {
      tier: 'tiny',
      limits: { read: 3, write: 2, longRunning: 1 },
    });
    expect(r.body).toMatchObject({ tier: 'tiny', limits: { read: 3, write: 2, longRunning: 1 } });
    expect((await h.get('/v1/whoami')).body.rateLimitTier).toBe('tiny');
    expectError(await h.control('POST', '/_emulator/rate-limits', { tier: 'mystery' }), 422, 'VALIDATION');
  });

  test('standard tier: 60 writes per minute, then 429 with Retry-After; buckets are separate per class', async () => {
    await h.control('POST', '/_emulator/clock', { freeze: true }); // no refill while we count
    await h.control('POST', '/_emulator/rate-limits', { tier: 'standard' });
    let last: Body;
    for (let i = 0; i < 60; i++) {
      last = await h.post('/v1/organizations/org_none/suspend', undefined);
      expect(last.status).toBe(404);
    }
    expect(last.headers.get('x-ratelimit-limit')).toBe('60');
    const limited = await h.post('/v1/organizations', { name: 'x' });
    expectError(limited, 429, 'RATE_LIMITED', { endpointClass: 'write-light', limit: 60 });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await h.get('/v1/whoami')).status).toBe(200); // reads have their own bucket
    expect((await h.state()).organizations).toHaveLength(1);
  });

  test('per key: another key has its own buckets; the bucket refills with the emulator clock', async () => {
    await h.control('POST', '/_emulator/clock', { freeze: true });
    await h.control('POST', '/_emulator/rate-limits', {
      tier: 'tiny',
      limits: { read: 1, write: 1, longRunning: 1 },
    });
    const other = await h.control('POST', '/_emulator/keys', { scopes: ['org:admin'], tier: 'tiny' });
    expect((await h.get('/v1/whoami')).status).toBe(200);
    const r = await h.get('/v1/whoami');
    expectError(r, 429, 'RATE_LIMITED');
    expect(r.headers.get('retry-after')).toBe('60');
    expect((await h.get('/v1/whoami', { key: other.body.secret })).status).toBe(200);
    await h.advance(30_000);
    expectError(await h.get('/v1/whoami'), 429, 'RATE_LIMITED');
    await h.advance(30_000);
    expect((await h.get('/v1/whoami')).status).toBe(200);
  });

  test('unlimited tier never limits', async () => {
    await h.control('POST', '/_emulator/rate-limits', { tier: 'unlimited' });
    const rs = await Promise.all(Array.from({ length: 200 }, () => h.get('/v1/whoami')));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(rs[0].headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('request counting', () => {
  test('GET /_emulator/state counts requests by route pattern and status', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 1);
    await h.allocate(child.id, 1);
    await h.allocate(child.id, 1_000_000);
    await h.get('/v1/whoami');
    const s = await h.state();
    expect(s.requests.byRoute['POST /v1/organizations/:orgId/credits/allocate']).toEqual({
      '200': 2,
      '402': 1,
    });
    expect(s.requests.byRoute['POST /v1/organizations']).toEqual({ '201': 1 });
    expect(s.requests.byRoute['GET /v1/whoami']).toEqual({ '200': 1 });
    expect(s.requests.total).toBe(5);
  });
});
