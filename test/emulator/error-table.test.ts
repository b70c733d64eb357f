/**
 * CONTRACT.md "Error envelope": one test per row (and per "when" clause) of the error table,
 * asserting status, error.code, details, and that the failing call changed nothing.
 */
import { randomUUID } from 'node:crypto';
import { ALLOCATE_5000, CREDIT_CONFIG, DOCS_ORG_ID, FIREHOSE, expectError, useEmulator } from './helpers';

const h = useEmulator();

async function fundedChild(credits = 5000): Promise<string> {
  const child = await h.createChild();
  if (credits > 0) expect((await h.allocate(child.id, credits)).status).toBe(200);
  return child.id;
}

describe('400 IDEMPOTENCY_REQUIRED', () => {
  test('allocate without an Idempotency-Key is rejected and moves nothing', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/credits/allocate`, ALLOCATE_5000, { idem: false });
    expectError(r, 400, 'IDEMPOTENCY_REQUIRED');
    const s = await h.state();
    expect(s.transfers).toHaveLength(0);
    expect(s.wallets.find((w: { organizationId: string }) => w.organizationId === child.id).balance).toBe(0);
  });
});

describe('401 UNAUTHENTICATED', () => {
  test('missing key', async () => {
    expectError(await h.get('/v1/whoami', { key: null }), 401, 'UNAUTHENTICATED');
  });
  test('unknown key', async () => {
    const r = await h.get('/v1/whoami', { key: 'lp_live_ABCDEFGHJKMNPQRS_0123456789abcdefghijklmnopqrstuv' });
    expectError(r, 401, 'UNAUTHENTICATED');
  });
  test('revoked key', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    expect((await h.del(`/v1/organizations/${child.id}/api-keys/${k.id}`)).status).toBe(200);
    expectError(await h.get('/v1/whoami', { key: k.secret }), 401, 'UNAUTHENTICATED', { reason: 'revoked' });
  });
  test('a non-Bearer scheme is refused (Bearer only)', async () => {
    const r = await h.get('/v1/whoami', {
      key: null,
      headers: { authorization: `Basic ${Buffer.from(h.parentKey).toString('base64')}` },
    });
    expectError(r, 401, 'UNAUTHENTICATED');
    expectError(await h.get(`/v1/whoami?api_key=${h.parentKey}`, { key: null }), 401, 'UNAUTHENTICATED');
  });
});

describe('402 BILLING_EXHAUSTED', () => {
  test('parent wallet short on allocate: nothing moves', async () => {
    const child = await h.createChild();
    const r = await h.allocate(child.id, 100_001);
    expectError(r, 402, 'BILLING_EXHAUSTED', { requested: 100_001, available: 100_000 });
    const s = await h.state();
    expect(s.transfers).toHaveLength(0);
    expect(s.wallets.find((w: { organizationId: string }) => w.organizationId === h.parentId).balance).toBe(
      100_000,
    );
  });
  test('child reservation over available', async () => {
    const id = await fundedChild(100);
    const r = await h.usage(id, 'reserve', 101);
    expectError(r, 402, 'BILLING_EXHAUSTED', { reason: 'insufficient_balance', available: 100 });
    expect((await h.wallet(id)).reserved).toBe(0);
  });
  test('child reservation over the monthly cap → details.reason "cap"', async () => {
    const id = await fundedChild(5000);
    expect((await h.patch(`/v1/organizations/${id}/credit-config`, { monthlyCreditCap: 1000 })).status).toBe(
      200,
    );
    const r = await h.usage(id, 'reserve', 1001);
    expectError(r, 402, 'BILLING_EXHAUSTED', { reason: 'cap', monthlyCreditCap: 1000 });
    expect((await h.wallet(id)).reserved).toBe(0);
  });
});

describe('403 FORBIDDEN_SCOPE', () => {
  test('key lacks a scope (a parent key without org:admin on an org:admin route)', async () => {
    const k = await h.control('POST', '/_emulator/keys', { scopes: ['projects:read', 'projects:write'] });
    const r = await h.post('/v1/organizations', { name: 'Nope' }, { key: k.body.secret });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { requiredScope: 'org:admin' });
    expect((await h.state()).organizations).toHaveLength(1);
  });
  test('delegating org:admin to a child key', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/api-keys`, {
      name: 'admin',
      scopes: ['org:admin'],
    });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { reason: 'not_delegable', scope: 'org:admin' });
    expect((await h.state()).apiKeys).toHaveLength(1);
  });
  test('scope "all_children" without org:admin', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    const r = await h.post('/v1/webhook-endpoints', FIREHOSE, { key: k.secret });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { requiredScope: 'org:admin' });
    expect((await h.state()).webhookEndpoints).toHaveLength(0);
  });
});

describe('404 NOT_FOUND', () => {
  test('unknown id', async () => {
    expectError(await h.get(`/v1/organizations/${DOCS_ORG_ID}`), 404, 'NOT_FOUND');
    expectError(await h.allocate(DOCS_ORG_ID, 1), 404, 'NOT_FOUND');
  });
  test('not a direct child of the caller (another partner’s child): 404, never 403', async () => {
    const other = await h.control('POST', '/_emulator/parents', { name: 'Other partner' });
    const theirs = await h.post('/v1/organizations', { name: 'Their customer' }, { key: other.body.key });
    expect(theirs.status).toBe(201);
    for (const r of [
      await h.get(`/v1/organizations/${theirs.body.id}`),
      await h.allocate(theirs.body.id, 10),
      await h.get(`/v1/organizations/${theirs.body.id}/credit-config`),
      await h.post(`/v1/organizations/${theirs.body.id}/suspend`, undefined),
      await h.del(`/v1/organizations/${theirs.body.id}`),
    ]) {
      expectError(r, 404, 'NOT_FOUND');
    }
    const s = await h.state();
    expect(s.transfers).toHaveLength(0);
    expect(s.organizations.find((o: { id: string }) => o.id === theirs.body.id).status).toBe('active');
  });
});

describe('409 CONFLICT', () => {
  let archived: string;
  beforeEach(async () => {
    archived = await fundedChild(500);
    expect((await h.del(`/v1/organizations/${archived}`)).status).toBe(200);
  });
  test('allocate into an archived child', async () => {
    expectError(await h.allocate(archived, 10), 409, 'CONFLICT', { reason: 'archived' });
    expect((await h.wallet(archived)).balance).toBe(0);
  });
  test('credit-config PATCH on an archived child', async () => {
    expectError(await h.patch(`/v1/organizations/${archived}/credit-config`, CREDIT_CONFIG), 409, 'CONFLICT');
    expect(
      (await h.state()).creditConfigs.find((c: { organizationId: string }) => c.organizationId === archived),
    ).toMatchObject({
      monthlyCreditCap: null,
    });
  });
  test('suspend an archived child', async () => {
    expectError(await h.post(`/v1/organizations/${archived}/suspend`, undefined), 409, 'CONFLICT');
  });
  test('resume an archived child', async () => {
    expectError(await h.post(`/v1/organizations/${archived}/resume`, undefined), 409, 'CONFLICT');
    expect((await h.state()).organizations.find((o: { id: string }) => o.id === archived).status).toBe(
      'archived',
    );
  });
  test('rotating a superseded key', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    expect((await h.post(`/v1/organizations/${child.id}/api-keys/${k.id}/rotate`, undefined)).status).toBe(
      200,
    );
    const r = await h.post(`/v1/organizations/${child.id}/api-keys/${k.id}/rotate`, undefined);
    expectError(r, 409, 'CONFLICT', { reason: 'superseded' });
    expect(
      (await h.state()).apiKeys.filter((x: { organizationId: string }) => x.organizationId === child.id),
    ).toHaveLength(2);
  });
});

describe('409 IDEMPOTENCY_CONFLICT', () => {
  test('same Idempotency-Key reused with a different body', async () => {
    const child = await h.createChild();
    const key = randomUUID();
    expect((await h.allocate(child.id, 5000, { idem: key })).status).toBe(200);
    const r = await h.allocate(child.id, 6000, { idem: key });
    expectError(r, 409, 'IDEMPOTENCY_CONFLICT', { reason: 'body_mismatch' });
    expect((await h.state()).transfers).toHaveLength(1);
  });
});

describe('422 VALIDATION', () => {
  test('malformed body (invalid JSON) names the field', async () => {
    const r = await h.call('POST', '/v1/organizations', { raw: '{"name": "Acme",' });
    expectError(r, 422, 'VALIDATION', { field: 'body', reason: 'invalid_json' });
  });
  test('malformed id', async () => {
    expectError(await h.allocate('acme-coffee', 10), 422, 'VALIDATION', { field: 'orgId' });
    expectError(await h.get('/v1/organizations/not-an-org'), 422, 'VALIDATION', { field: 'orgId' });
  });
  test('out-of-bounds field', async () => {
    const child = await h.createChild();
    expectError(await h.allocate(child.id, 0), 422, 'VALIDATION', { field: 'credits' });
    expectError(await h.allocate(child.id, -5), 422, 'VALIDATION', { field: 'credits' });
    expectError(await h.allocate(child.id, 1.5), 422, 'VALIDATION', { field: 'credits' });
    expect((await h.state()).transfers).toHaveLength(0);
  });
  test('refill both-or-neither → details.code REFILL_REQUIRES_THRESHOLD_AND_AMOUNT', async () => {
    const child = await h.createChild();
    const r = await h.patch(`/v1/organizations/${child.id}/credit-config`, { refillThreshold: 1000 });
    expectError(r, 422, 'VALIDATION', { code: 'REFILL_REQUIRES_THRESHOLD_AND_AMOUNT' });
  });
});

describe('429 RATE_LIMITED', () => {
  test('bucket empty → Retry-After (seconds)', async () => {
    await h.control('POST', '/_emulator/clock', { freeze: true });
    await h.control('POST', '/_emulator/rate-limits', {
      tier: 'tiny',
      limits: { read: 2, write: 2, longRunning: 1 },
    });
    expect((await h.get('/v1/whoami')).status).toBe(200);
    expect((await h.get('/v1/whoami')).status).toBe(200);
    const r = await h.get('/v1/whoami');
    expectError(r, 429, 'RATE_LIMITED', { endpointClass: 'read-light' });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(Number(r.headers.get('retry-after')))).toBe(true);
  });
});

describe('500 PLATFORM_ERROR', () => {
  test('server fault (injected before executing): nothing happens', async () => {
    const child = await h.createChild();
    await h.control('POST', '/_emulator/faults', {
      seed: 1,
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', beforeError: 1 }],
    });
    expectError(await h.allocate(child.id, 10), 500, 'PLATFORM_ERROR');
    expect((await h.state()).transfers).toHaveLength(0);
  });
});

describe('503 KILL_SWITCH', () => {
  test('org kill switch on → details.scope "org"', async () => {
    await h.control('POST', '/_emulator/kill-switch', { on: true });
    expectError(await h.get('/v1/organizations'), 503, 'KILL_SWITCH', { scope: 'org' });
  });
  test('key suspended → details.scope "key"', async () => {
    const k = await h.control('POST', '/_emulator/keys', { scopes: ['org:admin'] });
    await h.control('POST', '/_emulator/kill-switch', { on: true, keyId: k.body.id });
    expectError(await h.get('/v1/organizations', { key: k.body.secret }), 503, 'KILL_SWITCH', {
      scope: 'key',
    });
    expect((await h.get('/v1/organizations')).status).toBe(200);
  });
  test('a suspended child’s own key → details.scope "org"', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id, ['projects:read', 'projects:write']);
    expect((await h.post(`/v1/organizations/${child.id}/suspend`, undefined)).status).toBe(200);
    expectError(
      await h.post('/v1/projects', { name: 'x', timezone: 'UTC' }, { key: k.secret }),
      503,
      'KILL_SWITCH',
      {
        scope: 'org',
      },
    );
    expect((await h.state()).projects).toHaveLength(0);
  });
});
