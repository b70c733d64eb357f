/**
 * Credits (003 allocate reference, 002 "Fund", CONTRACT.md "Credits"): allocation on both ledgers,
 * wallet reads, ledger events, reservations, the monthly cap, auto-refill, month rollover.
 */
import { ALLOCATE_5000, ALLOCATE_Q3, ISO_TS, TXN_ID, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();

describe('POST /v1/organizations/:orgId/credits/allocate', () => {
  test('moves credits parent → child and returns the documented shape (003 example)', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/credits/allocate`, ALLOCATE_Q3);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      id: expect.stringMatching(TXN_ID),
      organizationId: child.id,
      allocated: 5000,
      balance: 5000,
      available: 5000,
      description: 'Q3 budget top-up',
      metadata: { invoice: 'inv_2026_0142' },
      created: expect.stringMatching(ISO_TS),
    });
    const s = await h.state();
    expect(s.wallets.find((w: Body) => w.organizationId === h.parentId).balance).toBe(95_000);
    expect(s.transfers).toEqual([
      expect.objectContaining({
        id: r.body.id,
        fromOrganizationId: h.parentId,
        toOrganizationId: child.id,
        credits: 5000,
        trigger: 'allocate',
      }),
    ]);
  });

  test('description null and metadata {} when omitted (002 example)', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/credits/allocate`, ALLOCATE_5000);
    expect(r.body).toMatchObject({
      allocated: 5000,
      balance: 5000,
      available: 5000,
      description: null,
      metadata: {},
    });
  });

  test('writes an allocation event on both ledgers with metadata.transferId; system keys win over caller metadata', async () => {
    const child = await h.createChild();
    const r = await h.post(`/v1/organizations/${child.id}/credits/allocate`, {
      ...ALLOCATE_Q3,
      metadata: { invoice: 'inv_2026_0142', transferId: 'spoofed', direction: 'spoofed' },
    });
    expect(r.status).toBe(200);
    const childEvents = await h.get(`/v1/organizations/${child.id}/credits/events`);
    expect(childEvents.body.items).toHaveLength(1);
    expect(childEvents.body.items[0]).toMatchObject({
      eventType: 'allocation',
      credits: 5000,
      description: 'Q3 budget top-up',
      metadata: {
        invoice: 'inv_2026_0142',
        transferId: r.body.id,
        direction: 'credit',
        counterpartyOrgId: h.parentId,
      },
    });
    // the parent reads its own ledger through its own org id
    const parentEvents = await h.get(`/v1/organizations/${h.parentId}/credits/events?eventType=allocation`);
    expect(parentEvents.body.items).toHaveLength(1);
    expect(parentEvents.body.items[0]).toMatchObject({
      eventType: 'allocation',
      credits: -5000,
      description: 'Q3 budget top-up',
      metadata: {
        invoice: 'inv_2026_0142',
        transferId: r.body.id,
        direction: 'debit',
        counterpartyOrgId: child.id,
      },
    });
  });

  test('funding a suspended child is allowed', async () => {
    const child = await h.createChild();
    await h.post(`/v1/organizations/${child.id}/suspend`, undefined);
    const r = await h.allocate(child.id, 250);
    expect(r.status).toBe(200);
    expect(r.body.balance).toBe(250);
  });

  test('balance/available in the response are the child’s post-allocation numbers (net of reservations)', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 1000);
    await h.usage(child.id, 'reserve', 300);
    const r = await h.allocate(child.id, 500);
    expect(r.body).toMatchObject({ allocated: 500, balance: 1500, available: 1200 });
  });

  test('body validation: credits required positive integer, description ≤ 500, metadata bounds, unknown fields', async () => {
    const child = await h.createChild();
    const path = `/v1/organizations/${child.id}/credits/allocate`;
    for (const body of [{}, { credits: '5000' }, { credits: null }, { credits: 1e21 }, [5000]]) {
      expectError(await h.post(path, body), 422, 'VALIDATION');
    }
    expectError(await h.post(path, { credits: 1, description: 'd'.repeat(501) }), 422, 'VALIDATION', {
      field: 'description',
    });
    expectError(await h.post(path, { credits: 1, metadata: { k: 2 } }), 422, 'VALIDATION', {
      field: 'metadata.k',
    });
    expectError(await h.post(path, { credits: 1, note: 'x' }), 422, 'VALIDATION', { field: 'note' });
    expectError(
      await h.post(path, undefined, { raw: 'credits=5', contentType: 'application/x-www-form-urlencoded' }),
      422,
      'VALIDATION',
      {
        field: 'Content-Type',
      },
    );
    expect((await h.post(path, { credits: 1, description: 'd'.repeat(500) })).status).toBe(200);
    expect((await h.state()).transfers).toHaveLength(1);
  });

  test('the parent can spend its whole wallet, but not one credit more', async () => {
    const child = await h.createChild();
    expect((await h.allocate(child.id, 100_000)).status).toBe(200);
    expectError(await h.allocate(child.id, 1), 402, 'BILLING_EXHAUSTED');
    await h.control('POST', '/_emulator/parent/credits', { credits: 10 });
    expect((await h.allocate(child.id, 10)).status).toBe(200);
  });
});

describe('GET /v1/organizations/:orgId/credits', () => {
  test('balance, available = balance − reserved, reservedCredits', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 5000);
    await h.usage(child.id, 'reserve', 120);
    const r = await h.get(`/v1/organizations/${child.id}/credits`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      organizationId: child.id,
      balance: 5000,
      available: 4880,
      reservedCredits: 120,
      usedThisMonth: 0,
    });
  });
});

describe('GET /v1/organizations/:orgId/credits/events', () => {
  test('newest first, cursor pagination, limit 1–100 (default 25), eventType/since/until filters', async () => {
    const child = await h.createChild();
    for (let i = 1; i <= 30; i++) await h.allocate(child.id, i);
    const p1 = await h.get(`/v1/organizations/${child.id}/credits/events`);
    expect(p1.body.items).toHaveLength(25);
    expect(p1.body.items[0].credits).toBe(30);
    const p2 = await h.get(`/v1/organizations/${child.id}/credits/events?cursor=${p1.body.nextCursor}`);
    expect(p2.body.items.map((e: Body) => e.credits)).toEqual([5, 4, 3, 2, 1]);
    expect(p2.body.nextCursor).toBeNull();
    for (const bad of ['0', '101']) {
      expectError(
        await h.get(`/v1/organizations/${child.id}/credits/events?limit=${bad}`),
        422,
        'VALIDATION',
        { field: 'limit' },
      );
    }
    expect((await h.get(`/v1/organizations/${child.id}/credits/events?limit=100`)).body.items).toHaveLength(
      30,
    );
    expectError(
      await h.get(`/v1/organizations/${child.id}/credits/events?eventType=bonus`),
      422,
      'VALIDATION',
      { field: 'eventType' },
    );
    expect(
      (await h.get(`/v1/organizations/${child.id}/credits/events?eventType=usage`)).body.items,
    ).toHaveLength(0);
    expectError(
      await h.get(`/v1/organizations/${child.id}/credits/events?since=yesterday`),
      422,
      'VALIDATION',
      { field: 'since' },
    );
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(
      (await h.get(`/v1/organizations/${child.id}/credits/events?since=${future}`)).body.items,
    ).toHaveLength(0);
    expect(
      (await h.get(`/v1/organizations/${child.id}/credits/events?until=${future}&limit=100`)).body.items,
    ).toHaveLength(30);
  });

  test('another partner’s child ledger is 404', async () => {
    const other = await h.control('POST', '/_emulator/parents', {});
    expectError(
      await h.get(`/v1/organizations/${other.body.organizationId}/credits/events`),
      404,
      'NOT_FOUND',
    );
  });
});

describe('usage: reserve / settle / release (content generation stand-in)', () => {
  test('reserve lowers available; settle spends (usage event); release frees', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 1000);
    expect((await h.usage(child.id, 'reserve', 300)).body).toMatchObject({
      balance: 1000,
      reserved: 300,
      available: 700,
    });
    const settled = await h.usage(child.id, 'settle', 200);
    expect(settled.body).toMatchObject({ balance: 800, reserved: 100, available: 700, usedThisMonth: 200 });
    expect((await h.usage(child.id, 'release', 100)).body).toMatchObject({
      balance: 800,
      reserved: 0,
      available: 800,
    });
    const usage = await h.get(`/v1/organizations/${child.id}/credits/events?eventType=usage`);
    expect(usage.body.items).toEqual([
      expect.objectContaining({ eventType: 'usage', credits: -200, eventId: settled.body.ledgerEventId }),
    ]);
    expectError(await h.usage(child.id, 'settle', 1), 422, 'VALIDATION', { field: 'credits' });
  });

  test('the monthly cap counts settled usage plus reservations; the UTC month rollover resets it', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 5000);
    await h.patch(`/v1/organizations/${child.id}/credit-config`, { monthlyCreditCap: 1000 });
    await h.usage(child.id, 'reserve', 600);
    await h.usage(child.id, 'settle', 600);
    await h.usage(child.id, 'reserve', 300);
    expectError(await h.usage(child.id, 'reserve', 101), 402, 'BILLING_EXHAUSTED', {
      reason: 'cap',
      usedThisMonth: 600,
      reserved: 300,
    });
    expect((await h.usage(child.id, 'reserve', 100)).status).toBe(200);
    // move the emulator clock into the next UTC calendar month
    const now = new Date((await h.state()).nowMs);
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 0, 0, 1);
    await h.advance(nextMonth - now.getTime());
    expect((await h.wallet(child.id)).usedThisMonth).toBe(0);
    await h.usage(child.id, 'release', 400);
    expect((await h.usage(child.id, 'reserve', 1000)).status).toBe(200);
  });

  test('auto-refill moves refillAmount from the parent when available drops below the threshold', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 5000);
    await h.patch(`/v1/organizations/${child.id}/credit-config`, {
      refillThreshold: 1000,
      refillAmount: 2000,
    });
    await h.usage(child.id, 'reserve', 4000);
    const settled = await h.usage(child.id, 'settle', 4000); // available 1000: not below the threshold yet
    expect(settled.body.autoRefill).toBeNull();
    // a reservation lowers available too: 1000 − 1 = 999 < 1000 → refill right away
    const r = await h.usage(child.id, 'reserve', 1);
    expect(r.body.autoRefill).toEqual({ transferId: expect.stringMatching(TXN_ID), credits: 2000 });
    expect(r.body).toMatchObject({ balance: 3000, reserved: 1, available: 2999 });
    expect((await h.usage(child.id, 'settle', 1)).body).toMatchObject({
      balance: 2999,
      available: 2999,
      autoRefill: null,
    });
    const s = await h.state();
    expect(s.transfers.filter((t: Body) => t.trigger === 'auto_refill')).toEqual([
      expect.objectContaining({ fromOrganizationId: h.parentId, toOrganizationId: child.id, credits: 2000 }),
    ]);
    const ev = (await h.get(`/v1/organizations/${child.id}/credits/events?eventType=allocation`)).body
      .items[0];
    expect(ev.metadata).toMatchObject({ trigger: 'auto_refill', transferId: r.body.autoRefill.transferId });
  });

  test('auto-refill is skipped, and logged, when the parent is short', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 100_000);
    await h.patch(`/v1/organizations/${child.id}/credit-config`, {
      refillThreshold: 1000,
      refillAmount: 2000,
    });
    await h.usage(child.id, 'reserve', 99_500);
    const r = await h.usage(child.id, 'settle', 99_500);
    expect(r.body.autoRefill).toBeNull();
    const s = await h.state();
    expect(s.transfers.filter((t: Body) => t.trigger === 'auto_refill')).toHaveLength(0);
    expect(s.log.some((l: Body) => l.level === 'warn' && /auto-refill .* skipped/.test(l.message))).toBe(
      true,
    );
  });

  test('settling emits content.generated with data.organizationId (see webhooks tests for delivery)', async () => {
    const child = await h.createChild();
    await h.allocate(child.id, 10);
    await h.usage(child.id, 'reserve', 10);
    const r = await h.usage(child.id, 'settle', 10);
    expect(r.body.webhookEventId).toMatch(/^evt_[0-9A-Z]{26}$/);
  });
});

describe('control: parent top-up', () => {
  test('POST /_emulator/parent/credits adds a purchase event to the parent ledger', async () => {
    const r = await h.control('POST', '/_emulator/parent/credits', { credits: 2500 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ organizationId: h.parentId, balance: 102_500 });
    const who = await h.get('/v1/whoami');
    expect(who.body.creditBalance).toBe(102_500);
    expectError(await h.control('POST', '/_emulator/parent/credits', { credits: 0 }), 422, 'VALIDATION');
  });
});
