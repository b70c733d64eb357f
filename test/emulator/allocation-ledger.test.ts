/**
 * Allocate's `description` and `metadata` on the ledgers (page 003: "Recorded on the allocation event
 * on both ledgers … readable via GET …/credits/events"), read back the way a reconciliation job
 * would: the parent's own ledger, `eventType=allocation`, `limit` up to 100, cursor paging.
 */
import { ALLOCATE_Q3, expectError, useEmulator, type Body } from './helpers';

const h = useEmulator();
const events = (orgId: string, query: string) => h.get(`/v1/organizations/${orgId}/credits/events?${query}`);

test('description and metadata ride on both sides of every allocation; the parent pages its own ledger 100 at a time', async () => {
  const a = await h.createChild({ name: 'a' });
  const b = await h.createChild({ name: 'b' });
  const transfers = new Map<string, { child: string; invoice: string }>();
  for (let i = 1; i <= 105; i++) {
    const child = i % 2 === 0 ? a.id : b.id;
    const invoice = `inv_${i}`;
    const r = await h.post(`/v1/organizations/${child}/credits/allocate`, {
      credits: i,
      description: `top-up ${i}`,
      metadata: { invoice },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ description: `top-up ${i}`, metadata: { invoice } });
    transfers.set(r.body.id, { child, invoice });
  }

  // The parent's ledger also holds its initial purchase; the filter leaves the 105 debits.
  const first = await events(h.parentId, 'eventType=allocation&limit=100');
  expect(first.status).toBe(200);
  expect(first.body.items).toHaveLength(100);
  expect(first.body.nextCursor).toEqual(expect.any(String));
  const second = await events(h.parentId, `eventType=allocation&limit=100&cursor=${first.body.nextCursor}`);
  expect(second.body.items).toHaveLength(5);
  expect(second.body.nextCursor).toBeNull();

  const all: Body[] = [...first.body.items, ...second.body.items];
  expect(all.map((e) => e.credits)).toEqual(Array.from({ length: 105 }, (_, i) => -(105 - i))); // newest first
  for (const e of all) {
    const t = transfers.get(e.metadata.transferId);
    expect(t).toBeDefined();
    expect(e).toMatchObject({
      eventType: 'allocation',
      organizationId: h.parentId,
      description: `top-up ${-e.credits}`,
      metadata: { invoice: t?.invoice, direction: 'debit', counterpartyOrgId: t?.child, trigger: 'allocate' },
    });
  }
  expect(new Set(all.map((e) => e.metadata.transferId)).size).toBe(105);

  // The child's side of one transfer carries the same description, metadata and transferId.
  const [lastId, last] = [...transfers].at(-1) as [string, { child: string; invoice: string }];
  const childSide = await events(last.child, 'eventType=allocation&limit=1');
  expect(childSide.body.items[0]).toMatchObject({
    eventType: 'allocation',
    credits: 105,
    description: 'top-up 105',
    metadata: {
      invoice: last.invoice,
      transferId: lastId,
      direction: 'credit',
      counterpartyOrgId: h.parentId,
    },
  });
});

test('limit is 1–100 on the parent’s own ledger too; other event types are filtered out', async () => {
  const child = await h.createChild();
  await h.post(`/v1/organizations/${child.id}/credits/allocate`, ALLOCATE_Q3);
  expectError(await events(h.parentId, 'limit=101'), 422, 'VALIDATION', { field: 'limit' });
  expectError(await events(h.parentId, 'limit=0'), 422, 'VALIDATION', { field: 'limit' });
  const all = await events(h.parentId, 'limit=100');
  expect(all.body.items.map((e: Body) => e.eventType)).toEqual(['allocation', 'purchase']);
  const purchases = await events(h.parentId, 'eventType=purchase');
  expect(purchases.body.items).toHaveLength(1);
  expect(purchases.body.items[0].metadata.transferId).toBeUndefined();
});
