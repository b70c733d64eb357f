/**
 * The content-generation stand-in (POST /_emulator/organizations/:orgId/usage): credits are reserved
 * when work starts and settled (spent) or released when it ends — the only operations that lower
 * `available`, so the cap is checked and auto-refill evaluated here.
 */
import { ApiError, archivedConflict, validation } from '../errors';
import { maybeAutoRefill, config } from './credit-config';
import {
  addLedger,
  available,
  transfer,
  wallet,
  type LedgerEvent,
  type Transfer,
  type Wallet,
} from './credits';
import type { Store } from './index';
import type { Org } from './organizations';
import { emit } from './webhooks';

export type UsageAction = 'reserve' | 'settle' | 'release';

export interface UsageResult {
  organizationId: string;
  action: UsageAction;
  credits: number;
  balance: number;
  reserved: number;
  available: number;
  usedThisMonth: number;
  ledgerEventId: string | null;
  webhookEventId: string | null;
  autoRefill: { transferId: string; credits: number } | null;
  reclaimed: { transferId: string; credits: number } | null;
}

/** Cap first (`reason: "cap"`), then the balance (`reason: "insufficient_balance"`). */
function reserve(s: Store, org: Org, w: Wallet, credits: number): void {
  const c = config(s, org.id);
  if (c.monthlyCreditCap !== null && w.usedThisMonth + w.reserved + credits > c.monthlyCreditCap) {
    throw new ApiError('BILLING_EXHAUSTED', 'This reservation would exceed the monthly credit cap.', {
      reason: 'cap',
      monthlyCreditCap: c.monthlyCreditCap,
      usedThisMonth: w.usedThisMonth,
      reserved: w.reserved,
      requested: credits,
    });
  }
  if (credits > available(w)) {
    throw new ApiError('BILLING_EXHAUSTED', 'Not enough available credits for this reservation.', {
      reason: 'insufficient_balance',
      requested: credits,
      available: available(w),
    });
  }
  w.reserved += credits;
}

export function usage(
  s: Store,
  org: Org,
  action: UsageAction,
  credits: number,
  projectId: string | null,
): UsageResult {
  let ledgerEvent: LedgerEvent | null = null;
  let webhookEventId: string | null = null;
  let refill: Transfer | null = null;
  let reclaimed: Transfer | null = null;
  const w = wallet(s, org.id);
  if (action === 'reserve') {
    if (org.status === 'archived') throw archivedConflict(org.id);
    refill = maybeAutoRefill(s, org);
    reserve(s, org, w, credits);
  } else {
    if (credits > w.reserved) {
      throw validation('credits', `exceeds the reserved credits (${w.reserved})`, { reserved: w.reserved });
    }
    w.reserved -= credits;
    if (action === 'settle') {
      w.balance -= credits;
      w.usedThisMonth += credits;
      s.totals.consumed += credits;
      ledgerEvent = addLedger(s, org.id, -credits, 'usage', 'Content generation', {}, projectId);
      webhookEventId = emit(s, 'content.generated', org.id, {
        projectId,
        credits,
        ledgerEventId: ledgerEvent.eventId,
      });
    }
    if (org.status === 'archived' && org.parentOrganizationId !== null) {
      // Reserved credits were left behind at archive; once released they go home too.
      const freed = available(w);
      if (freed > 0) reclaimed = transfer(s, org.id, org.parentOrganizationId, freed, 'reclaim', null, {});
    }
  }
  refill = maybeAutoRefill(s, org) ?? refill;
  return {
    organizationId: org.id,
    action,
    credits,
    balance: w.balance,
    reserved: w.reserved,
    available: available(w),
    usedThisMonth: w.usedThisMonth,
    ledgerEventId: ledgerEvent?.eventId ?? null,
    webhookEventId,
    autoRefill: refill ? { transferId: refill.id, credits: refill.credits } : null,
    reclaimed: reclaimed ? { transferId: reclaimed.id, credits: reclaimed.credits } : null,
  };
}
