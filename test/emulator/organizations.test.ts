/**
 * Child organizations (002 + CONTRACT.md "Child organizations"): create, list, get with summary,
 * patch metadata, suspend/resume, archive — one test per documented rule.
 */
import { ACME, ACME_QUICKSTART, ISO_TS, ORG_ID, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const org = (s: Body, id: string): Body => s.organizations.find((o: Body) => o.id === id);

describe('POST /v1/organizations', () => {
  test('creates an active child with the documented shape (002 example body)', async () => {
    const r = await h.post('/v1/organizations', ACME);
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(
      [
        'archivedAt',
        'billingEmail',
        'createdAt',
        'id',
        'metadata',
        'name',
        'parentOrganizationId',
        'status',
        'updatedAt',
      ].sort(),
    );
    expect(r.body).toMatchObject({
      parentOrganizationId: h.parentId,
      name: 'Acme Coffee',
      status: 'active',
      metadata: { externalId: 'acme-coffee', plan: 'growth' },
      billingEmail: null,
      archivedAt: null,
    });
    expect(r.body.id).toMatch(ORG_ID);
    expect(r.body.createdAt).toMatch(ISO_TS);
    expect(r.body.updatedAt).toBe(r.body.createdAt);
    expect(org(await h.state(), r.body.id)).toMatchObject({
      parentOrganizationId: h.parentId,
      status: 'active',
    });
  });

  test('accepts the quickstart body and an optional billingEmail', async () => {
    expect((await h.post('/v1/organizations', ACME_QUICKSTART)).status).toBe(201);
    const r = await h.post('/v1/organizations', { ...ACME, billingEmail: 'billing@acme.example' });
    expect(r.status).toBe(201);
    expect(r.body.billingEmail).toBe('billing@acme.example');
  });

  test('name must be 1–128 characters', async () => {
    expectError(await h.post('/v1/organizations', { name: '' }), 422, 'VALIDATION', { field: 'name' });
    expectError(await h.post('/v1/organizations', {}), 422, 'VALIDATION', { field: 'name' });
    expectError(await h.post('/v1/organizations', { name: 'x'.repeat(129) }), 422, 'VALIDATION', {
      field: 'name',
    });
    expect((await h.post('/v1/organizations', { name: 'x'.repeat(128) })).status).toBe(201);
  });

  test('metadata is string→string, ≤ 50 keys, key ≤ 40, value ≤ 500', async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    expect((await h.post('/v1/organizations', { name: 'a', metadata: fifty })).status).toBe(201);
    const cases: Body[] = [
      { metadata: { ...fifty, k50: 'v' } },
      { metadata: { ['k'.repeat(41)]: 'v' } },
      { metadata: { k: 'v'.repeat(501) } },
      { metadata: { k: 1 } },
      { metadata: ['a'] },
    ];
    for (const c of cases) {
      const r = await h.post('/v1/organizations', { name: 'a', ...c });
      expectError(r, 422, 'VALIDATION');
      expect(r.body.error.details.field).toMatch(/^metadata/);
    }
    expect(
      (await h.post('/v1/organizations', { name: 'a', metadata: { ['k'.repeat(40)]: 'v'.repeat(500) } }))
        .status,
    ).toBe(201);
  });

  test('billingEmail must be an email; unknown fields are refused', async () => {
    expectError(await h.post('/v1/organizations', { name: 'a', billingEmail: 'nope' }), 422, 'VALIDATION', {
      field: 'billingEmail',
    });
    expectError(await h.post('/v1/organizations', { name: 'a', plan: 'growth' }), 422, 'VALIDATION', {
      field: 'plan',
    });
  });

  test('a child calling it gets 422 VALIDATION (orgs are one level deep)', async () => {
    const child = await h.createChild();
    const admin = await h.control('POST', '/_emulator/keys', {
      scopes: ['org:admin'],
      organizationId: child.id,
    });
    const plain = await h.mintKey(child.id);
    for (const key of [admin.body.secret, plain.secret]) {
      expectError(await h.post('/v1/organizations', ACME, { key }), 422, 'VALIDATION');
    }
    expect((await h.state()).organizations).toHaveLength(2);
  });
});

describe('GET /v1/organizations', () => {
  test('lists direct children newest first with cursor pagination', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.createChild({ name: `c${i}` })).id);
    const p1 = await h.get('/v1/organizations?limit=2');
    expect(p1.status).toBe(200);
    expect(p1.body.items.map((o: Body) => o.id)).toEqual([ids[4], ids[3]]);
    expect(typeof p1.body.nextCursor).toBe('string');
    const p2 = await h.get(`/v1/organizations?limit=2&cursor=${p1.body.nextCursor}`);
    expect(p2.body.items.map((o: Body) => o.id)).toEqual([ids[2], ids[1]]);
    const p3 = await h.get(`/v1/organizations?limit=2&cursor=${p2.body.nextCursor}`);
    expect(p3.body.items.map((o: Body) => o.id)).toEqual([ids[0]]);
    expect(p3.body.nextCursor).toBeNull();
  });

  test('default limit is 25; limit must be 1–200', async () => {
    for (let i = 0; i < 26; i++) await h.createChild({ name: `c${i}` });
    const r = await h.get('/v1/organizations');
    expect(r.body.items).toHaveLength(25);
    expect(r.body.nextCursor).not.toBeNull();
    expect((await h.get('/v1/organizations?limit=200')).body.items).toHaveLength(26);
    for (const bad of ['0', '201', 'abc', '-1', '2.5']) {
      expectError(await h.get(`/v1/organizations?limit=${bad}`), 422, 'VALIDATION', { field: 'limit' });
    }
  });

  test('status filter; an unknown status or cursor is 422', async () => {
    const a = await h.createChild({ name: 'a' });
    const b = await h.createChild({ name: 'b' });
    await h.post(`/v1/organizations/${b.id}/suspend`, undefined);
    const r = await h.get('/v1/organizations?status=suspended');
    expect(r.body.items.map((o: Body) => o.id)).toEqual([b.id]);
    expect((await h.get('/v1/organizations?status=active')).body.items.map((o: Body) => o.id)).toEqual([
      a.id,
    ]);
    expectError(await h.get('/v1/organizations?status=deleted'), 422, 'VALIDATION', { field: 'status' });
    expectError(await h.get('/v1/organizations?cursor=garbage'), 422, 'VALIDATION', { field: 'cursor' });
  });

  test('never lists another partner’s children', async () => {
    const other = await h.control('POST', '/_emulator/parents', {});
    await h.post('/v1/organizations', { name: 'theirs' }, { key: other.body.key });
    const mine = await h.createChild();
    expect((await h.get('/v1/organizations')).body.items.map((o: Body) => o.id)).toEqual([mine.id]);
  });
});

describe('GET /v1/organizations/:orgId', () => {
  test('a new child has an empty wallet and an all-null credit config (002 example)', async () => {
    const child = await h.createChild();
    const r = await h.get(`/v1/organizations/${child.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: child.id,
      name: 'Acme Coffee',
      status: 'active',
      summary: {
        projectCount: 0,
        balance: 0,
        available: 0,
        creditConfig: {
          monthlyCreditCap: null,
          refillThreshold: null,
          refillAmount: null,
          autoRefillEnabled: false,
        },
      },
    });
  });

  test('summary reflects funding, reservations, config and projects (000 step 6)', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 5000);
    await h.patch(`/v1/organizations/${child.id}/credit-config`, {
      monthlyCreditCap: 5000,
      refillThreshold: 1000,
      refillAmount: 2000,
    });
    await h.post(
      '/v1/projects',
      { name: 'Acme Coffee', timezone: 'America/Los_Angeles' },
      { headers: { 'x-layers-organization': child.id } },
    );
    await h.usage(child.id, 'reserve', 120);
    const r = await h.get(`/v1/organizations/${child.id}`);
    expect(r.body.summary).toEqual({
      projectCount: 1,
      balance: 5000,
      available: 4880,
      creditConfig: {
        monthlyCreditCap: 5000,
        refillThreshold: 1000,
        refillAmount: 2000,
        autoRefillEnabled: true,
      },
    });
  });

  test('the caller’s own org id is not a direct child: 404', async () => {
    expectError(await h.get(`/v1/organizations/${h.parentId}`), 404, 'NOT_FOUND');
  });

  test('a well-prefixed but unknown id is 404; a bad prefix or characters is 422', async () => {
    expectError(await h.get('/v1/organizations/org_does-not-exist'), 404, 'NOT_FOUND');
    expectError(await h.get('/v1/organizations/acme'), 422, 'VALIDATION', { field: 'orgId' });
    expectError(await h.get('/v1/organizations/org_a%20b'), 422, 'VALIDATION', { field: 'orgId' });
  });
});

describe('PATCH /v1/organizations/:orgId', () => {
  test('merges metadata key by key; "" unsets a key', async () => {
    const child = await h.createChild();
    const r = await h.patch(`/v1/organizations/${child.id}`, {
      metadata: { plan: 'scale', region: 'eu', externalId: '' },
    });
    expect(r.status).toBe(200);
    expect(r.body.metadata).toEqual({ plan: 'scale', region: 'eu' });
    expect(org(await h.state(), child.id).metadata).toEqual({ plan: 'scale', region: 'eu' });
  });

  test('the merged result must still be ≤ 50 keys; other fields are refused', async () => {
    const child = await h.createChild({
      name: 'a',
      metadata: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])),
    });
    expectError(
      await h.patch(`/v1/organizations/${child.id}`, { metadata: { extra: 'v' } }),
      422,
      'VALIDATION',
      { field: 'metadata' },
    );
    expect(
      (await h.patch(`/v1/organizations/${child.id}`, { metadata: { k0: '', extra: 'v' } })).status,
    ).toBe(200);
    expectError(await h.patch(`/v1/organizations/${child.id}`, { name: 'renamed' }), 422, 'VALIDATION', {
      field: 'name',
    });
  });

  test('an archived child’s metadata cannot change (409)', async () => {
    const child = await h.createChild();
    await h.del(`/v1/organizations/${child.id}`);
    expectError(await h.patch(`/v1/organizations/${child.id}`, { metadata: { a: 'b' } }), 409, 'CONFLICT');
  });
});

describe('suspend / resume', () => {
  test('work without an Idempotency-Key, as in the docs’ curl examples, and are idempotent by state', async () => {
    const child = await h.createChild();
    for (const expected of ['suspended', 'suspended']) {
      const r = await h.post(`/v1/organizations/${child.id}/suspend`, undefined, { idem: false });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: child.id, status: expected });
    }
    for (let i = 0; i < 2; i++) {
      const r = await h.post(`/v1/organizations/${child.id}/resume`, undefined, { idem: false });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('active');
    }
  });

  test('suspended: the child’s own keys get 503 KILL_SWITCH; the parent keeps managing and funding it', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    await h.post(`/v1/organizations/${child.id}/suspend`, undefined);
    expectError(await h.get('/v1/webhook-endpoints', { key: k.secret }), 503, 'KILL_SWITCH', {
      scope: 'org',
    });
    const who = await h.get('/v1/whoami', { key: k.secret });
    expect(who.status).toBe(200);
    expect(who.body.killSwitch).toBe(true);
    expect((await h.get(`/v1/organizations/${child.id}`)).status).toBe(200);
    const funded = await h.allocate(child.id, 300);
    expect(funded.status).toBe(200);
    expect(funded.body.balance).toBe(300);
    await h.post(`/v1/organizations/${child.id}/resume`, undefined);
    expect((await h.get('/v1/webhook-endpoints', { key: k.secret })).status).toBe(200);
  });
});

describe('DELETE /v1/organizations/:orgId (archive)', () => {
  test('revokes every child key, reclaims unspent non-reserved credits, terminal archived state (002 example numbers)', async () => {
    const child = await h.createChild();
    const k1 = await h.mintKey(child.id);
    const k2 = await h.mintKey(child.id);
    await h.allocate(child.id, 5000);
    await h.usage(child.id, 'reserve', 1800);
    await h.usage(child.id, 'settle', 1800);
    const r = await h.del(`/v1/organizations/${child.id}`, { idem: false });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      id: child.id,
      status: 'archived',
      archivedAt: expect.stringMatching(ISO_TS),
      reclaimedCredits: 3200,
      revokedApiKeys: 2,
    });
    const s = await h.state();
    expect(org(s, child.id)).toMatchObject({ status: 'archived', archivedAt: r.body.archivedAt });
    expect(s.wallets.find((w: Body) => w.organizationId === child.id).balance).toBe(0);
    expect(s.wallets.find((w: Body) => w.organizationId === h.parentId).balance).toBe(100_000 - 1800);
    const reclaim = s.transfers.find((t: Body) => t.trigger === 'reclaim');
    expect(reclaim).toMatchObject({
      fromOrganizationId: child.id,
      toOrganizationId: h.parentId,
      credits: 3200,
    });
    const events = s.ledger.filter((e: Body) => e.metadata.transferId === reclaim.id);
    expect(events.map((e: Body) => [e.organizationId, e.credits]).sort()).toEqual(
      [
        [child.id, -3200],
        [h.parentId, 3200],
      ].sort(),
    );
    for (const k of [k1, k2]) {
      expect(s.apiKeys.find((x: Body) => x.id === k.id).status).toBe('revoked');
      expectError(await h.get('/v1/whoami', { key: k.secret }), 401, 'UNAUTHENTICATED');
    }
  });

  test('reserved credits backing in-flight work are not reclaimed mid-flight', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 1000);
    await h.usage(child.id, 'reserve', 400);
    const r = await h.del(`/v1/organizations/${child.id}`);
    expect(r.body.reclaimedCredits).toBe(600);
    expect(await h.wallet(child.id)).toMatchObject({ balance: 400, reserved: 400, available: 0 });
    // when the in-flight work ends without spending, the freed credits go home too (emulator decision)
    const rel = await h.usage(child.id, 'release', 400);
    expect(rel.body.reclaimed.credits).toBe(400);
    expect(await h.wallet(child.id)).toMatchObject({ balance: 0, reserved: 0 });
  });

  test('is idempotent: a repeated DELETE answers the original result and moves nothing', async () => {
    const child = await h.createChild();
    await h.mintKey(child.id);
    await h.allocate(child.id, 700);
    const first = await h.del(`/v1/organizations/${child.id}`, { idem: false });
    const second = await h.del(`/v1/organizations/${child.id}`, { idem: false });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const s = await h.state();
    expect(s.transfers.filter((t: Body) => t.trigger === 'reclaim')).toHaveLength(1);
  });

  test('archived is terminal: still readable, listed with status archived, never active again', async () => {
    const child = await h.createChild();
    await h.del(`/v1/organizations/${child.id}`);
    expect((await h.get(`/v1/organizations/${child.id}`)).body.status).toBe('archived');
    expect((await h.get('/v1/organizations?status=archived')).body.items.map((o: Body) => o.id)).toEqual([
      child.id,
    ]);
    expectError(await h.post(`/v1/organizations/${child.id}/resume`, undefined), 409, 'CONFLICT');
    expectError(
      await h.post(`/v1/organizations/${child.id}/api-keys`, { name: 'k', scopes: ['content:read'] }),
      409,
      'CONFLICT',
    );
  });
});
