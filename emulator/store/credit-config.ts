/**
 * A child's credit config (page 004): the monthly cap and the auto-refill rule, all in credits and
 * nullable. Auto-refill is both-or-neither; `autoRefillEnabled` is derived.
 */
import { ApiError, archivedConflict } from '../errors';
import { available, transfer, wallet, type Transfer } from './credits';
import type { Store } from './index';
import type { Org } from './organizations';

export interface CreditConfig {
  organizationId: string;
  monthlyCreditCap: number | null;
  refillThreshold: number | null;
  refillAmount: number | null;
}

export type CreditConfigPatch = Partial<
  Pick<CreditConfig, 'monthlyCreditCap' | 'refillThreshold' | 'refillAmount'>
>;

export type CreditConfigJson = {
  monthlyCreditCap: number | null;
  refillThreshold: number | null;
  refillAmount: number | null;
  autoRefillEnabled: boolean;
};

/** The stored config, or the all-null default of a never-configured child. */
export function config(s: Store, orgId: string): CreditConfig {
  return (
    s.configs.get(orgId) ?? {
      organizationId: orgId,
      monthlyCreditCap: null,
      refillThreshold: null,
      refillAmount: null,
    }
  );
}

export function configJson(s: Store, orgId: string): CreditConfigJson {
  const c = config(s, orgId);
  return {
    monthlyCreditCap: c.monthlyCreditCap,
    refillThreshold: c.refillThreshold,
    refillAmount: c.refillAmount,
    autoRefillEnabled: c.refillThreshold !== null && c.refillAmount !== null,
  };
}

/** PATCH semantics: a number sets, null clears, omitted is unchanged; the refill rule is checked on the merge. */
export function patchCreditConfig(s: Store, org: Org, patch: CreditConfigPatch): CreditConfig {
  if (org.status === 'archived') throw archivedConflict(org.id);
  const merged = { ...config(s, org.id), ...patch };
  if ((merged.refillThreshold === null) !== (merged.refillAmount === null)) {
    throw new ApiError(
      'VALIDATION',
      'Auto-refill is both-or-neither: refillThreshold and refillAmount must both be set or both be null.',
      {
        code: 'REFILL_REQUIRES_THRESHOLD_AND_AMOUNT',
        field: merged.refillThreshold === null ? 'refillThreshold' : 'refillAmount',
        refillThreshold: merged.refillThreshold,
        refillAmount: merged.refillAmount,
      },
    );
  }
  s.configs.set(org.id, merged);
  return merged;
}

/**
 * Auto-refill (emulator decision: evaluated after each usage operation and before a reservation):
 * when refill is configured and available < threshold, move refillAmount from the parent once.
 * Skipped, and logged, when the parent's available balance is short.
 */
export function maybeAutoRefill(s: Store, org: Org): Transfer | null {
  if (org.parentOrganizationId === null || org.status === 'archived') return null;
  const c = config(s, org.id);
  if (c.refillThreshold === null || c.refillAmount === null) return null;
  if (available(wallet(s, org.id)) >= c.refillThreshold) return null;
  const parentAvailable = available(wallet(s, org.parentOrganizationId));
  if (parentAvailable < c.refillAmount) {
    s.logLine(
      'warn',
      `auto-refill of ${c.refillAmount} credits for ${org.id} skipped: parent ${org.parentOrganizationId} has only ${parentAvailable} available`,
      org.id,
    );
    return null;
  }
  const t = transfer(s, org.parentOrganizationId, org.id, c.refillAmount, 'auto_refill', null, {});
  s.logLine('info', `auto-refill moved ${c.refillAmount} credits into ${org.id} (${t.id})`, org.id);
  return t;
}
