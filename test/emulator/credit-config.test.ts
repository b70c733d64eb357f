/**
 * GET & PATCH /v1/organizations/:orgId/credit-config (004): partial update, null clears,
 * both-or-neither on the merged result, bounds, `{}` echo, never 404 for a never-funded child.
 */
import { CREDIT_CONFIG, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const path = (id: string): string => `/v1/organizations/${id}/credit-config`;

test('GET never 404s on a never-funded child: all-null config, balance/available 0', async () => {
  const child = await h.createChild();
  const r = await h.get(path(child.id));
  expect(r.status).toBe(200);
  expect(r.body).toEqual({
    organizationId: child.id,
    config: { monthlyCreditCap: null, refillThreshold: null, refillAmount: null, autoRefillEnabled: false },
    balance: 0,
    available: 0,
  });
});

test('PATCH sets cap + refill and echoes the merged config with live balances (004 example)', async () => {
  const child = await h.createChild();
  await h.allocate(child.id, 5000);
  await h.usage(child.id, 'reserve', 120);
  const r = await h.patch(path(child.id), CREDIT_CONFIG);
  expect(r.status).toBe(200);
  expect(r.body).toEqual({
    organizationId: child.id,
    config: { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000, autoRefillEnabled: true },
    balance: 5000,
    available: 4880,
  });
  expect((await h.get(path(child.id))).body).toEqual(r.body);
  const s = await h.state();
  expect(s.creditConfigs.find((c: Body) => c.organizationId === child.id)).toMatchObject({
    monthlyCreditCap: 5000,
    refillThreshold: 1000,
    refillAmount: 2000,
    autoRefillEnabled: true,
  });
});

test('PATCH on a never-funded child creates its config row', async () => {
  const child = await h.createChild();
  expect((await h.state()).creditConfigs.find((c: Body) => c.organizationId === child.id).configured).toBe(
    false,
  );
  const r = await h.patch(path(child.id), { monthlyCreditCap: 100 });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ config: { monthlyCreditCap: 100 }, balance: 0, available: 0 });
  expect((await h.state()).creditConfigs.find((c: Body) => c.organizationId === child.id).configured).toBe(
    true,
  );
});

test('partial update: a number sets, null clears, an omitted field is left unchanged', async () => {
  const child = await h.createChild();
  await h.patch(path(child.id), CREDIT_CONFIG);
  let r = await h.patch(path(child.id), { monthlyCreditCap: 7000 });
  expect(r.body.config).toEqual({
    monthlyCreditCap: 7000,
    refillThreshold: 1000,
    refillAmount: 2000,
    autoRefillEnabled: true,
  });
  r = await h.patch(path(child.id), { monthlyCreditCap: null });
  expect(r.body.config).toEqual({
    monthlyCreditCap: null,
    refillThreshold: 1000,
    refillAmount: 2000,
    autoRefillEnabled: true,
  });
  r = await h.patch(path(child.id), { refillThreshold: null, refillAmount: null });
  expect(r.body.config).toEqual({
    monthlyCreditCap: null,
    refillThreshold: null,
    refillAmount: null,
    autoRefillEnabled: false,
  });
});

test('both-or-neither is checked on the merged result', async () => {
  const child = await h.createChild();
  // one-sided on an empty config: rejected, nothing stored
  for (const body of [
    { refillThreshold: 1000 },
    { refillAmount: 2000 },
    { refillThreshold: 1000, refillAmount: null },
  ]) {
    const r = await h.patch(path(child.id), body);
    expectError(r, 422, 'VALIDATION', { code: 'REFILL_REQUIRES_THRESHOLD_AND_AMOUNT' });
  }
  expect((await h.get(path(child.id))).body.config.autoRefillEnabled).toBe(false);
  // with both stored, changing one side alone is fine
  await h.patch(path(child.id), { refillThreshold: 1000, refillAmount: 2000 });
  const one = await h.patch(path(child.id), { refillAmount: 3000 });
  expect(one.status).toBe(200);
  expect(one.body.config).toMatchObject({
    refillThreshold: 1000,
    refillAmount: 3000,
    autoRefillEnabled: true,
  });
  // clearing one side alone would leave exactly one set: rejected, stored config unchanged
  expectError(await h.patch(path(child.id), { refillThreshold: null }), 422, 'VALIDATION', {
    code: 'REFILL_REQUIRES_THRESHOLD_AND_AMOUNT',
  });
  expect((await h.get(path(child.id))).body.config).toMatchObject({
    refillThreshold: 1000,
    refillAmount: 3000,
  });
});

test('bounds: cap integer ≥ 0, threshold integer ≥ 0, amount integer > 0; autoRefillEnabled is read-only', async () => {
  const child = await h.createChild();
  const bad: Array<[Body, string]> = [
    [{ monthlyCreditCap: -1 }, 'monthlyCreditCap'],
    [{ monthlyCreditCap: 1.5 }, 'monthlyCreditCap'],
    [{ monthlyCreditCap: '5000' }, 'monthlyCreditCap'],
    [{ refillThreshold: -1, refillAmount: 10 }, 'refillThreshold'],
    [{ refillThreshold: 10, refillAmount: 0 }, 'refillAmount'],
    [{ refillThreshold: 10, refillAmount: 2.5 }, 'refillAmount'],
    [{ autoRefillEnabled: true }, 'autoRefillEnabled'],
    [{ cap: 10 }, 'cap'],
  ];
  for (const [body, field] of bad)
    expectError(await h.patch(path(child.id), body), 422, 'VALIDATION', { field });
  const edge = await h.patch(path(child.id), { monthlyCreditCap: 0, refillThreshold: 0, refillAmount: 1 });
  expect(edge.status).toBe(200);
  expect(edge.body.config).toEqual({
    monthlyCreditCap: 0,
    refillThreshold: 0,
    refillAmount: 1,
    autoRefillEnabled: true,
  });
});

test('an empty body {} is a no-op that echoes the current config', async () => {
  const child = await h.createChild();
  await h.patch(path(child.id), CREDIT_CONFIG);
  const r = await h.patch(path(child.id), {});
  expect(r.status).toBe(200);
  expect(r.body.config).toEqual({ ...CREDIT_CONFIG, autoRefillEnabled: true });
});

test('an archived child’s config cannot change (409), but can be read', async () => {
  const child = await h.createChild();
  await h.patch(path(child.id), CREDIT_CONFIG);
  await h.del(`/v1/organizations/${child.id}`);
  expectError(await h.patch(path(child.id), { monthlyCreditCap: 1 }), 409, 'CONFLICT');
  expectError(await h.patch(path(child.id), {}), 409, 'CONFLICT');
  expect((await h.get(path(child.id))).body.config.monthlyCreditCap).toBe(5000);
});

test('404 for a child that is not the caller’s; 403 without org:admin', async () => {
  const other = await h.control('POST', '/_emulator/parents', {});
  const theirs = await h.post('/v1/organizations', { name: 't' }, { key: other.body.key });
  expectError(await h.get(path(theirs.body.id)), 404, 'NOT_FOUND');
  expectError(await h.patch(path(theirs.body.id), CREDIT_CONFIG), 404, 'NOT_FOUND');
  const noAdmin = await h.control('POST', '/_emulator/keys', { scopes: ['content:read'] });
  const mine = await h.createChild();
  expectError(await h.get(path(mine.id), { key: noAdmin.body.secret }), 403, 'FORBIDDEN_SCOPE');
});

test('PATCH honors an Idempotency-Key: a replay returns the same result without re-applying', async () => {
  const child = await h.createChild();
  const key = '3f2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
  const first = await h.patch(path(child.id), { monthlyCreditCap: 5000 }, { idem: key });
  await h.patch(path(child.id), { monthlyCreditCap: 9000 });
  const replay = await h.patch(path(child.id), { monthlyCreditCap: 5000 }, { idem: key });
  expect(replay.status).toBe(200);
  expect(replay.body).toEqual(first.body);
  expect((await h.get(path(child.id))).body.config.monthlyCreditCap).toBe(9000);
});
