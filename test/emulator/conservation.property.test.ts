/**
 * Property test: for random sequences of allocate / usage (reserve, settle, release) / archive /
 * parent top-up / credit-config (auto-refill) / new child, credits are conserved after EVERY step:
 *
 *   Σ wallet balances + Σ settled usage == initial parent credits + Σ top-ups
 *
 * and every wallet is sane: 0 ≤ reserved ≤ balance, available = balance − reserved, each wallet's
 * balance equals the sum of its ledger events, an archived child holds only reserved credits.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { useEmulator, type Body } from './helpers';

const h = useEmulator();

type Cmd =
  | { kind: 'create' }
  | { kind: 'allocate'; child: number; credits: number; reuseKey: boolean }
  | { kind: 'reserve' | 'settle' | 'release'; child: number; credits: number }
  | { kind: 'archive'; child: number }
  | { kind: 'topup'; credits: number }
  | { kind: 'config'; child: number; threshold: number; amount: number };

const child = fc.nat({ max: 4 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'create' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('allocate' as const),
      child,
      credits: fc.integer({ min: 1, max: 30_000 }),
      reuseKey: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      child,
      credits: fc.integer({ min: 1, max: 4000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      child,
      credits: fc.integer({ min: 1, max: 2000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      child,
      credits: fc.integer({ min: 1, max: 2000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('archive' as const), child }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('topup' as const),
      credits: fc.integer({ min: 1, max: 30_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('config' as const),
      child,
      threshold: fc.integer({ min: 0, max: 4000 }),
      amount: fc.integer({ min: 1, max: 8000 }),
    }),
  },
);

function checkInvariants(s: Body, minted: number, consumed: number): void {
  const total = s.wallets.reduce((sum: number, w: Body) => sum + w.balance, 0);
  expect(total + consumed).toBe(minted);
  expect(s.totals).toMatchObject({ minted, consumed, holds: true });
  const ledgerSum = new Map<string, number>();
  for (const e of s.ledger)
    ledgerSum.set(e.organizationId, (ledgerSum.get(e.organizationId) ?? 0) + e.credits);
  for (const w of s.wallets) {
    expect(w.reserved).toBeGreaterThanOrEqual(0);
    expect(w.reserved).toBeLessThanOrEqual(w.balance);
    expect(w.available).toBe(w.balance - w.reserved);
    expect(ledgerSum.get(w.organizationId) ?? 0).toBe(w.balance);
    const org = s.organizations.find((o: Body) => o.id === w.organizationId);
    if (org.status === 'archived') expect(w.balance).toBe(w.reserved);
  }
}

test('credits are conserved after every step of random allocate/usage/archive/top-up sequences', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { minLength: 10, maxLength: 30, size: 'max' }), async (cmds) => {
      await h.control('POST', '/_emulator/reset');
      const children: string[] = [];
      let minted = 100_000;
      let consumed = 0;
      let lastAllocate: { child: string; credits: number; key: string } | null = null;
      for (const c of cmds) {
        if (c.kind === 'create' || children.length === 0) {
          children.push((await h.createChild({ name: `c${children.length}` })).id);
          if (c.kind === 'create') {
            checkInvariants(await h.state(), minted, consumed);
            continue;
          }
        }
        const target = 'child' in c ? children[c.child % children.length] : '';
        switch (c.kind) {
          case 'allocate': {
            const previous: { child: string; credits: number; key: string } | null = lastAllocate;
            const replay: boolean = c.reuseKey && previous !== null;
            const args: { child: string; credits: number; key: string } =
              replay && previous ? previous : { child: target, credits: c.credits, key: randomUUID() };
            const r = await h.allocate(args.child, args.credits, { idem: args.key });
            expect([200, 402, 409]).toContain(r.status);
            if (replay && r.status === 200) expect(r.body.replayed).toBe(true);
            lastAllocate = args;
            break;
          }
          case 'reserve':
          case 'release': {
            const r = await h.usage(target, c.kind, c.credits);
            expect([200, 402, 409, 422]).toContain(r.status);
            break;
          }
          case 'settle': {
            const r = await h.usage(target, 'settle', c.credits);
            expect([200, 422]).toContain(r.status);
            if (r.status === 200) consumed += c.credits;
            break;
          }
          case 'archive':
            expect((await h.del(`/v1/organizations/${target}`)).status).toBe(200);
            break;
          case 'topup':
            expect(
              (await h.control('POST', '/_emulator/parent/credits', { credits: c.credits })).status,
            ).toBe(200);
            minted += c.credits;
            break;
          case 'config': {
            const r = await h.patch(`/v1/organizations/${target}/credit-config`, {
              refillThreshold: c.threshold,
              refillAmount: c.amount,
            });
            expect([200, 409]).toContain(r.status);
            break;
          }
        }
        checkInvariants(await h.state(), minted, consumed);
      }
    }),
    { numRuns: 30 },
  );
});
