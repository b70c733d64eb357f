/**
 * The control API (/_emulator/*): the exact GET /_emulator/state shape other tests in the project
 * read, reset, clock, extra keys, extra parents, kill switch, usage and webhook emission.
 */
import { ACME_KEY, CREDIT_CONFIG, FIREHOSE, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();

test('GET /_emulator/state has the documented shape and never a secret', async () => {
  const child = await h.createChild();
  const minted = await h.post(`/v1/organizations/${child.id}/api-keys`, ACME_KEY);
  await h.allocate(child.id, 5000);
  await h.patch(`/v1/organizations/${child.id}/credit-config`, CREDIT_CONFIG);
  await h.post(
    '/v1/projects',
    { name: 'p', timezone: 'UTC' },
    { headers: { 'x-layers-organization': child.id } },
  );
  const ep = await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: 'http://127.0.0.1:9/none' });
  await h.usage(child.id, 'reserve', 100);
  await h.usage(child.id, 'settle', 100);
  const s = await h.state();
  for (const k of [
    'now',
    'parentOrganizationId',
    'killSwitch',
    'organizations',
    'wallets',
    'ledger',
    'transfers',
    'apiKeys',
    'creditConfigs',
    'projects',
    'webhookEndpoints',
    'webhookDeliveries',
    'requests',
  ]) {
    expect(s).toHaveProperty(k);
  }
  expect(s.parentOrganizationId).toBe(h.parentId);
  expect(s.killSwitch).toBe(false);
  expect(s.organizations).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        id: h.parentId,
        parentOrganizationId: null,
        status: 'active',
        metadata: {},
        archivedAt: null,
      }),
      expect.objectContaining({
        id: child.id,
        parentOrganizationId: h.parentId,
        status: 'active',
        metadata: child.metadata,
      }),
    ]),
  );
  expect(s.wallets.find((w: Body) => w.organizationId === child.id)).toMatchObject({
    balance: 4900,
    reserved: 0,
    available: 4900,
    usedThisMonth: 100,
  });
  expect(s.ledger[0]).toEqual(
    expect.objectContaining({
      eventId: expect.any(String),
      organizationId: expect.any(String),
      eventType: expect.any(String),
      credits: expect.any(Number),
      metadata: expect.any(Object),
      createdAt: expect.any(String),
      projectId: null,
    }),
  );
  expect(s.transfers[0]).toEqual(
    expect.objectContaining({
      id: expect.stringMatching(/^txn_/),
      fromOrganizationId: h.parentId,
      toOrganizationId: child.id,
      credits: 5000,
      trigger: 'allocate',
      createdAt: expect.any(String),
    }),
  );
  const key = s.apiKeys.find((k: Body) => k.id === minted.body.apiKey.id);
  expect(key).toMatchObject({
    organizationId: child.id,
    name: 'acme-integration',
    prefix: minted.body.apiKey.prefix,
    scopes: ACME_KEY.scopes,
    status: 'active',
  });
  expect(s.creditConfigs.find((c: Body) => c.organizationId === child.id)).toMatchObject({
    ...CREDIT_CONFIG,
    autoRefillEnabled: true,
  });
  expect(s.projects).toHaveLength(1);
  expect(s.webhookEndpoints[0]).toMatchObject({ id: ep.body.id, scope: 'all_children' });
  expect(s.webhookDeliveries[0]).toEqual(
    expect.objectContaining({
      id: expect.any(String),
      endpointId: ep.body.id,
      eventId: expect.stringMatching(/^evt_/),
      type: 'content.generated',
      organizationId: child.id,
      attempts: expect.any(Number),
      status: expect.stringMatching(/^(pending|delivered|failed)$/),
    }),
  );
  expect(s.requests.total).toBeGreaterThan(0);
  const text = JSON.stringify(s);
  expect(text).not.toContain(minted.body.secret);
  expect(text).not.toContain(h.parentKey);
  expect(text).not.toContain(ep.body.signingSecret);
  expect(text).not.toContain('secretHash');
});

test('POST /_emulator/reset restores a fresh state but keeps the parent org id and key', async () => {
  await h.createChild();
  await h.advance(3_600_000);
  await h.control('POST', '/_emulator/faults', { seed: 1, rules: [] });
  const r = await h.control('POST', '/_emulator/reset');
  expect(r.body).toMatchObject({ reset: true, parentOrganizationId: h.parentId });
  const s = await h.state();
  expect(s.organizations).toHaveLength(1);
  expect(s.transfers).toHaveLength(0);
  expect(s.faults).toBeNull();
  expect(Math.abs(s.nowMs - Date.now())).toBeLessThan(60_000);
  expect((await h.get('/v1/whoami')).body).toMatchObject({
    organizationId: h.parentId,
    creditBalance: 100_000,
  });
});

test('POST /_emulator/clock moves forward only; freeze stops it', async () => {
  const before = (await h.state()).nowMs;
  const r = await h.control('POST', '/_emulator/clock', { advanceMs: 86_400_000 });
  expect(r.body.nowMs).toBeGreaterThanOrEqual(before + 86_400_000);
  expectError(await h.control('POST', '/_emulator/clock', { advanceMs: -1 }), 422, 'VALIDATION', {
    field: 'advanceMs',
  });
  const frozen = await h.control('POST', '/_emulator/clock', { freeze: true });
  await new Promise((res) => setTimeout(res, 20));
  expect((await h.state()).nowMs).toBe(frozen.body.nowMs);
  const moved = await h.control('POST', '/_emulator/clock', { advanceMs: 1000 });
  expect(moved.body.nowMs).toBe(frozen.body.nowMs + 1000);
});

test('POST /_emulator/keys mints an extra key (any scopes, any org) and never returns it again', async () => {
  const r = await h.control('POST', '/_emulator/keys', { scopes: ['projects:read'] });
  expect(r.status).toBe(201);
  expect(r.body).toMatchObject({
    id: expect.stringMatching(/^key_/),
    secret: expect.stringMatching(/^lp_live_/),
    organizationId: h.parentId,
  });
  expect((await h.get('/v1/whoami', { key: r.body.secret })).body.scopes).toEqual(['projects:read']);
  expectError(await h.control('POST', '/_emulator/keys', { scopes: [] }), 422, 'VALIDATION');
  expectError(
    await h.control('POST', '/_emulator/keys', { scopes: ['org:admin'], organizationId: 'org_missing' }),
    404,
    'NOT_FOUND',
  );
});

test('POST /_emulator/parents creates an unrelated partner with its own admin key and wallet', async () => {
  const r = await h.control('POST', '/_emulator/parents', { name: 'Other partner', credits: 42 });
  expect(r.status).toBe(201);
  const who = await h.get('/v1/whoami', { key: r.body.key });
  expect(who.body).toMatchObject({
    organizationId: r.body.organizationId,
    organizationName: 'Other partner',
    parentOrganizationId: null,
    creditBalance: 42,
  });
  expect(who.body.scopes).toContain('org:admin');
  // state still reports the bootstrap parent as *the* parent
  expect((await h.state()).parentOrganizationId).toBe(h.parentId);
});

test('the control API refuses unknown routes and invalid bodies with the error envelope', async () => {
  expectError(await h.control('GET', '/_emulator/nope'), 404, 'NOT_FOUND');
  expectError(
    await h.call('POST', '/_emulator/clock', { raw: '{', key: null, idem: false }),
    422,
    'VALIDATION',
    { reason: 'invalid_json' },
  );
  expectError(
    await h.control('POST', '/_emulator/organizations/org_missing/usage', { action: 'reserve', credits: 1 }),
    404,
    'NOT_FOUND',
  );
  const child = await h.createChild();
  expectError(
    await h.control('POST', `/_emulator/organizations/${child.id}/usage`, { action: 'spend', credits: 1 }),
    422,
    'VALIDATION',
    { field: 'action' },
  );
});
