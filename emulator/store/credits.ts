/**
 * Credits (page 003, CONTRACT.md "Credits"): wallets, the ledger, transfers between wallets and the
 * allocate operation. `balance` is gross; `available` is balance − reserved, floored at 0. Every
 * transfer writes an `allocation` event on both ledgers carrying `metadata.transferId`.
 */
import { ApiError, archivedConflict } from '../errors';
import { billingPeriod, iso, newLedgerEventId, newTransferId } from '../ids';
import { view } from '../json-view';
import type { Json } from '../validate';
import type { Store } from './index';
import type { Org } from './organizations';

export type LedgerEventType = 'usage' | 'refund' | 'grant' | 'purchase' | 'adjustment' | 'allocation';
export type TransferTrigger = 'allocate' | 'auto_refill' | 'reclaim';

export interface Wallet {
  organizationId: string;
  balance: number;
  reserved: number;
  usedThisMonth: number;
  usagePeriod: string;
}

export interface LedgerEvent {
  eventId: string;
  organizationId: string;
  projectId: string | null;
  credits: number;
  eventType: LedgerEventType;
  description: string | null;
  metadata: Record<string, string>;
  balanceAfter: number;
  createdAt: number;
  seq: number;
}

export interface Transfer {
  id: string;
  fromOrganizationId: string;
  toOrganizationId: string;
  credits: number;
  trigger: TransferTrigger;
  description: string | null;
  metadata: Record<string, string>;
  createdAt: number;
  seq: number;
}

// ---------------------------------------------------------------- wallets

export function ensureWallet(s: Store, orgId: string): Wallet {
  let w = s.wallets.get(orgId);
  if (!w) {
    w = {
      organizationId: orgId,
      balance: 0,
      reserved: 0,
      usedThisMonth: 0,
      usagePeriod: billingPeriod(s.now()),
    };
    s.wallets.set(orgId, w);
  }
  return w;
}

/** The wallet, with the monthly usage counter rolled over at the UTC month boundary. */
export function wallet(s: Store, orgId: string): Wallet {
  const w = ensureWallet(s, orgId);
  const period = billingPeriod(s.now());
  if (w.usagePeriod !== period) {
    w.usagePeriod = period;
    w.usedThisMonth = 0;
  }
  return w;
}

export function available(w: Wallet): number {
  return Math.max(0, w.balance - w.reserved);
}

/** `{balance, available}` of an org's wallet, as the allocate and credit-config responses echo them. */
export function balances(s: Store, orgId: string): { balance: number; available: number } {
  const w = wallet(s, orgId);
  return { balance: w.balance, available: available(w) };
}

/** Conservation: every credit ever minted is in some wallet or was consumed by settled usage. */
export function conservation(s: Store): {
  minted: number;
  consumed: number;
  inWallets: number;
  holds: boolean;
} {
  let inWallets = 0;
  for (const w of s.wallets.values()) inWallets += w.balance;
  const { minted, consumed } = s.totals;
  return { minted, consumed, inWallets, holds: inWallets + consumed === minted };
}

// ---------------------------------------------------------------- ledger and transfers

export function addLedger(
  s: Store,
  orgId: string,
  credits: number,
  eventType: LedgerEventType,
  description: string | null,
  metadata: Record<string, string>,
  projectId: string | null,
): LedgerEvent {
  const now = s.now();
  const ev: LedgerEvent = {
    eventId: newLedgerEventId(now),
    organizationId: orgId,
    projectId,
    credits,
    eventType,
    description,
    metadata,
    balanceAfter: wallet(s, orgId).balance,
    createdAt: now,
    seq: s.nextSeq(),
  };
  indexLedgerEvent(s, ev);
  return ev;
}

/** Append to the global ledger and to the org's own (also used when loading a persisted state). */
export function indexLedgerEvent(s: Store, ev: LedgerEvent): void {
  s.ledger.push(ev);
  let list = s.ledgerByOrg.get(ev.organizationId);
  if (!list) {
    list = [];
    s.ledgerByOrg.set(ev.organizationId, list);
  }
  list.push(ev);
}

/** Credits entering the system (initial partner credits, control-API top-ups). */
export function mint(s: Store, orgId: string, credits: number, description: string): LedgerEvent {
  const w = wallet(s, orgId);
  w.balance += credits;
  s.totals.minted += credits;
  return addLedger(s, orgId, credits, 'purchase', description, { source: 'emulator' }, null);
}

/**
 * Move credits between two wallets: both balances change and both ledgers get an `allocation`
 * event carrying `metadata.transferId` (system keys override the caller's metadata).
 */
export function transfer(
  s: Store,
  fromId: string,
  toId: string,
  credits: number,
  trigger: TransferTrigger,
  description: string | null,
  userMetadata: Record<string, string>,
): Transfer {
  const from = wallet(s, fromId);
  const to = wallet(s, toId);
  if (credits <= 0 || credits > from.balance) throw new Error(`invariant: bad transfer of ${credits}`);
  const t: Transfer = {
    id: newTransferId(),
    fromOrganizationId: fromId,
    toOrganizationId: toId,
    credits,
    trigger,
    description,
    metadata: userMetadata,
    createdAt: s.now(),
    seq: s.nextSeq(),
  };
  from.balance -= credits;
  to.balance += credits;
  s.transfers.push(t);
  const sys = (direction: string, counterparty: string): Record<string, string> => ({
    ...userMetadata,
    transferId: t.id,
    direction,
    counterpartyOrgId: counterparty,
    trigger,
  });
  addLedger(s, fromId, -credits, 'allocation', description, sys('debit', toId), null);
  addLedger(s, toId, credits, 'allocation', description, sys('credit', fromId), null);
  return t;
}

/** POST …/credits/allocate: parent → child, 402 when the parent's available balance is short. */
export function allocate(
  s: Store,
  parentId: string,
  child: Org,
  credits: number,
  description: string | null,
  metadata: Record<string, string>,
): Record<string, Json> {
  if (child.status === 'archived') throw archivedConflict(child.id);
  const parentAvailable = available(wallet(s, parentId));
  if (credits > parentAvailable) {
    throw new ApiError(
      'BILLING_EXHAUSTED',
      'Your parent wallet does not have enough credits for this allocation.',
      {
        reason: 'insufficient_balance',
        requested: credits,
        available: parentAvailable,
      },
    );
  }
  const t = transfer(s, parentId, child.id, credits, 'allocate', description, metadata);
  return {
    id: t.id,
    organizationId: child.id,
    allocated: credits,
    ...balances(s, child.id),
    description,
    metadata,
    created: iso(t.createdAt),
  };
}

// ---------------------------------------------------------------- views

export const ledgerJson = (e: LedgerEvent): Record<string, Json> =>
  view(e, 'eventId organizationId projectId credits eventType description metadata balanceAfter createdAt');

export const transferJson = (t: Transfer): Record<string, Json> =>
  view(t, 'id fromOrganizationId toOrganizationId credits trigger description metadata createdAt');
