/**
 * Child API keys (002 "Issue an API key", CONTRACT.md "Child API keys"): mint with scope-subset
 * rules, shape, list without secrets, rotate with a 24 h grace, revoke.
 */
import { ACME_KEY, ISO_TS, KEY_ID, SECRET, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const DAY = 24 * 60 * 60 * 1000;

describe('POST /v1/organizations/:orgId/api-keys', () => {
  test('mints a key with the documented shape; the secret is shown once and authenticates', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/api-keys`, ACME_KEY);
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(['apiKey', 'secret', 'warning']);
    expect(r.body.warning).toBe(
      "Store this secret now. It cannot be retrieved again. Rotate the key if it's lost.",
    );
    expect(Object.keys(r.body.apiKey).sort()).toEqual(
      [
        'createdAt',
        'env',
        'graceUntil',
        'id',
        'lastUsedAt',
        'name',
        'organizationId',
        'prefix',
        'rateLimitTier',
        'revokedAt',
        'rotatedAt',
        'scopes',
        'status',
        'supersededBy',
      ].sort(),
    );
    expect(r.body.apiKey).toMatchObject({
      organizationId: child.id,
      name: 'acme-integration',
      env: 'live',
      scopes: ['content:read', 'content:write'],
      status: 'active',
      rotatedAt: null,
      revokedAt: null,
      graceUntil: null,
      supersededBy: null,
      lastUsedAt: null,
    });
    expect(r.body.apiKey.id).toMatch(KEY_ID);
    expect(r.body.apiKey.createdAt).toMatch(ISO_TS);
    expect(r.body.secret).toMatch(SECRET);
    expect(r.body.apiKey.prefix).toMatch(/^lp_live_[0-9A-Z]{16}$/);
    expect(r.body.secret.startsWith(`${r.body.apiKey.prefix}_`)).toBe(true);

    const who = await h.get('/v1/whoami', { key: r.body.secret });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      organizationId: child.id,
      parentOrganizationId: h.parentId,
      apiKeyId: r.body.apiKey.id,
    });
    const s = await h.state();
    expect(JSON.stringify(s)).not.toContain(r.body.secret);
  });

  test('scopes must be a subset of the caller’s (403 FORBIDDEN_SCOPE, nothing minted)', async () => {
    const child = await h.createChild();
    const limited = await h.control('POST', '/_emulator/keys', { scopes: ['org:admin', 'content:read'] });
    const r = await h.post(`/v1/organizations/${child.id}/api-keys`, ACME_KEY, { key: limited.body.secret });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { reason: 'not_subset', missingScopes: ['content:write'] });
    const ok = await h.post(
      `/v1/organizations/${child.id}/api-keys`,
      { name: 'ro', scopes: ['content:read'] },
      { key: limited.body.secret },
    );
    expect(ok.status).toBe(201);
    expect((await h.state()).apiKeys.filter((k: Body) => k.organizationId === child.id)).toHaveLength(1);
  });

  test('org:admin is never delegable, even alongside other scopes', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/api-keys`, {
      name: 'x',
      scopes: ['content:read', 'org:admin'],
    });
    expectError(r, 403, 'FORBIDDEN_SCOPE', { scope: 'org:admin' });
  });

  test('scopes: 1–64 known scopes (empty, unknown, duplicate → 422); name 1–120; env "live" only', async () => {
    const child = await h.createChild();
    const path = `/v1/organizations/${child.id}/api-keys`;
    expectError(await h.post(path, { name: 'x', scopes: [] }), 422, 'VALIDATION', { field: 'scopes' });
    expectError(await h.post(path, { name: 'x' }), 422, 'VALIDATION', { field: 'scopes' });
    expectError(await h.post(path, { name: 'x', scopes: ['content:delete'] }), 422, 'VALIDATION', {
      field: 'scopes',
    });
    expectError(
      await h.post(path, { name: 'x', scopes: ['content:read', 'content:read'] }),
      422,
      'VALIDATION',
      { field: 'scopes' },
    );
    expectError(await h.post(path, { name: '', scopes: ['content:read'] }), 422, 'VALIDATION', {
      field: 'name',
    });
    expectError(await h.post(path, { name: 'n'.repeat(121), scopes: ['content:read'] }), 422, 'VALIDATION', {
      field: 'name',
    });
    expectError(await h.post(path, { name: 'x', scopes: ['content:read'], env: 'test' }), 422, 'VALIDATION', {
      field: 'env',
    });
    expect(
      (await h.post(path, { name: 'n'.repeat(120), scopes: ['content:read'], env: 'live' })).status,
    ).toBe(201);
  });

  test('minting on another partner’s child is 404', async () => {
    const other = await h.control('POST', '/_emulator/parents', {});
    const theirs = await h.post('/v1/organizations', { name: 'theirs' }, { key: other.body.key });
    expectError(await h.post(`/v1/organizations/${theirs.body.id}/api-keys`, ACME_KEY), 404, 'NOT_FOUND');
  });
});

describe('child keys act inside their own org only', () => {
  test('a child key cannot reach org:admin routes nor other orgs’ projects', async () => {
    const a = await h.createChild({ name: 'a' });
    const b = await h.createChild({ name: 'b' });
    const ka = await h.mintKey(a.id, ['projects:read', 'projects:write']);
    const pb = await h.post(
      '/v1/projects',
      { name: 'b', timezone: 'UTC' },
      { headers: { 'x-layers-organization': b.id } },
    );
    expect(pb.status).toBe(201);
    expectError(await h.get(`/v1/projects/${pb.body.id}`, { key: ka.secret }), 404, 'NOT_FOUND');
    expectError(await h.get(`/v1/organizations/${b.id}`, { key: ka.secret }), 403, 'FORBIDDEN_SCOPE');
    const pa = await h.post('/v1/projects', { name: 'a', timezone: 'UTC' }, { key: ka.secret });
    expect(pa.body.organizationId).toBe(a.id);
  });

  test('X-Layers-Organization is ignored for a non-admin key', async () => {
    const a = await h.createChild({ name: 'a' });
    const b = await h.createChild({ name: 'b' });
    const ka = await h.mintKey(a.id, ['projects:write']);
    const r = await h.post(
      '/v1/projects',
      { name: 'p', timezone: 'UTC' },
      { key: ka.secret, headers: { 'x-layers-organization': b.id } },
    );
    expect(r.status).toBe(201);
    expect(r.body.organizationId).toBe(a.id);
  });

  test('a child key never sees its own credit config (403: no org:admin)', async () => {
    const a = await h.createChild();
    const ka = await h.mintKey(a.id);
    expectError(
      await h.get(`/v1/organizations/${a.id}/credit-config`, { key: ka.secret }),
      403,
      'FORBIDDEN_SCOPE',
    );
  });
});

describe('GET /v1/organizations/:orgId/api-keys', () => {
  test('lists the child’s keys newest first, never their secrets', async () => {
    const child = await h.createChild();
    const k1 = await h.mintKey(child.id);
    const k2 = await h.mintKey(child.id);
    const r = await h.get(`/v1/organizations/${child.id}/api-keys`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((k: Body) => k.id)).toEqual([k2.id, k1.id]);
    expect(r.body.nextCursor).toBeNull();
    expect(JSON.stringify(r.body)).not.toContain(k1.secret.slice(25));
    expect(r.body.items[0].secret).toBeUndefined();
  });
});

describe('rotate', () => {
  test('returns a new key + secret; the old secret keeps working for 24 h, then 401', async () => {
    const child = await h.createChild();
    const old = await h.mintKey(child.id);
    const r = await h.post(`/v1/organizations/${child.id}/api-keys/${old.id}/rotate`, undefined);
    expect(r.status).toBe(200);
    expect(r.body.apiKey.id).not.toBe(old.id);
    expect(r.body.secret).toMatch(/^lp_live_/);
    expect(r.body.secret).not.toBe(old.secret);
    expect(r.body.previousApiKey).toMatchObject({
      id: old.id,
      supersededBy: r.body.apiKey.id,
      status: 'active',
    });
    const grace = Date.parse(r.body.previousApiKey.graceUntil) - Date.parse(r.body.previousApiKey.rotatedAt);
    expect(grace).toBe(DAY);

    expect((await h.get('/v1/whoami', { key: old.secret })).status).toBe(200);
    expect((await h.get('/v1/whoami', { key: r.body.secret })).status).toBe(200);
    await h.advance(DAY - 1000);
    expect((await h.get('/v1/whoami', { key: old.secret })).status).toBe(200);
    await h.advance(1000);
    expectError(await h.get('/v1/whoami', { key: old.secret }), 401, 'UNAUTHENTICATED', {
      reason: 'expired',
    });
    expect((await h.get('/v1/whoami', { key: r.body.secret })).status).toBe(200);
    expect((await h.state()).apiKeys.find((k: Body) => k.id === old.id).status).toBe('expired');
  });

  test('rotating the successor is fine; rotating a key of another org is 404', async () => {
    const child = await h.createChild();
    const other = await h.createChild({ name: 'other' });
    const k = await h.mintKey(child.id);
    const r1 = await h.post(`/v1/organizations/${child.id}/api-keys/${k.id}/rotate`, undefined);
    const r2 = await h.post(`/v1/organizations/${child.id}/api-keys/${r1.body.apiKey.id}/rotate`, undefined);
    expect(r2.status).toBe(200);
    expectError(
      await h.post(`/v1/organizations/${other.id}/api-keys/${r2.body.apiKey.id}/rotate`, undefined),
      404,
      'NOT_FOUND',
    );
    expectError(
      await h.post(`/v1/organizations/${child.id}/api-keys/key_nope/rotate`, undefined),
      404,
      'NOT_FOUND',
    );
    expectError(
      await h.post(`/v1/organizations/${child.id}/api-keys/nope/rotate`, undefined),
      422,
      'VALIDATION',
      { field: 'keyId' },
    );
  });
});

describe('revoke', () => {
  test('DELETE revokes at once (401 afterwards) and is idempotent', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    const r = await h.del(`/v1/organizations/${child.id}/api-keys/${k.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      deleted: true,
      apiKey: { id: k.id, status: 'revoked', revokedAt: expect.stringMatching(ISO_TS) },
    });
    expectError(await h.get('/v1/whoami', { key: k.secret }), 401, 'UNAUTHENTICATED');
    const again = await h.del(`/v1/organizations/${child.id}/api-keys/${k.id}`);
    expect(again.status).toBe(200);
    expect(again.body.apiKey.revokedAt).toBe(r.body.apiKey.revokedAt);
  });

  test('a revoked key cannot be rotated (409)', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    await h.del(`/v1/organizations/${child.id}/api-keys/${k.id}`);
    expectError(
      await h.post(`/v1/organizations/${child.id}/api-keys/${k.id}/rotate`, undefined),
      409,
      'CONFLICT',
      { reason: 'revoked' },
    );
  });
});
