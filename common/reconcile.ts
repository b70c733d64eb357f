// The nightly reconciliation's names and report, shared by the worker (schedule, activities), the
// workflow and the CLI. Dependency-free so that workflow code can import it.

/** The Temporal Schedule `npm run worker` creates or updates at start-up. */
export const RECONCILE_SCHEDULE_ID = 'layers-reconcile';
/** Daily at 03:00 UTC (schedules read cron in UTC unless told otherwise). */
export const DEFAULT_RECONCILE_CRON = '0 3 * * *';
/** Runs started by the schedule: the server appends the scheduled time to this id. */
export const SCHEDULED_RECONCILE_WORKFLOW_ID = 'reconcile/scheduled';

/** `onboard reconcile` runs: one id per run, sortable by time. */
export function manualReconcileWorkflowId(at: Date): string {
  return `reconcile/manual/${at.toISOString()}`;
}

export const DRIFT_KINDS = [
  /** A live child org that no running customer workflow owns (no externalId, none started, or it failed or ended). */
  'org-without-customer',
  /** A customer that is not offboarding or archived, whose child org was archived in Layers. */
  'customer-org-archived',
  /** An active customer whose child org is suspended in Layers. */
  'customer-org-suspended',
  /** A running customer whose child org Layers does not know (404). */
  'customer-org-missing',
  /** A customer's wallet holds less than was allocated to it minus what it spent (see README, Reconciliation). */
  'wallet-below-allocated',
  /** LAYERS_FIREHOSE_URL is set but the parent has no all_children endpoint for it. */
  'missing-firehose-endpoint',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** Only kinds named here have an explicit repair (`onboard repair <kind> <id>`); the rest are reported only. */
export const REPAIRABLE = { adopt: 'org-without-customer' } as const satisfies Record<string, DriftKind>;

export interface DriftItem {
  kind: DriftKind;
  externalId?: string;
  orgId?: string;
  /** One readable line: what was seen. */
  detail: string;
}

/** Exact counts, and the first `maxItemsPerKind` items of each kind (history stays small). */
export interface DriftTally {
  counts: Record<DriftKind, number>;
  items: Record<DriftKind, DriftItem[]>;
}

export interface ReconcileScanned {
  organizations: number;
  /** Running customer workflows matched to a child org. */
  customers: number;
  /** Running customers with an org, per visibility, and how many of their orgs were looked up one by one. */
  runningCustomers: number;
  customersChecked: number;
  wallets: number;
  pages: number;
}

export interface ReconcileReport extends DriftTally {
  startedAt: string;
  finishedAt: string;
  /** Sum of the counts; 0 means Layers and the orchestrator agree. */
  total: number;
  /** Some kind has more items than listed (the counts are still exact). */
  truncated: boolean;
  maxItemsPerKind: number;
  scanned: ReconcileScanned;
  /** The firehose endpoint checked, or null when LAYERS_FIREHOSE_URL is unset on the worker. */
  firehoseUrl: string | null;
}

export interface ReconcileInput {
  /** Items listed per drift kind in the result and the Web UI; counts are always exact. Default 100. */
  maxItemsPerKind?: number;
  /** Read each matched customer's wallet and ledger (two or more reads per customer). Default true. */
  checkWallets?: boolean;
}

export const DEFAULT_MAX_ITEMS_PER_KIND = 100;
// The tally travels in heartbeats and the result: 500 items of each kind stay well under the 2 MB payload limit.
export const MAX_ITEMS_PER_KIND = 500;

export function emptyTally(): DriftTally {
  const counts = {} as Record<DriftKind, number>;
  const items = {} as Record<DriftKind, DriftItem[]>;
  for (const kind of DRIFT_KINDS) {
    counts[kind] = 0;
    items[kind] = [];
  }
  return { counts, items };
}

export function addDrift(tally: DriftTally, item: DriftItem, maxItemsPerKind: number): void {
  tally.counts[item.kind] += 1;
  if (tally.items[item.kind].length < maxItemsPerKind) tally.items[item.kind].push(item);
}

export function mergeTallies(into: DriftTally, from: DriftTally, maxItemsPerKind: number): void {
  for (const kind of DRIFT_KINDS) {
    into.counts[kind] += from.counts[kind];
    for (const item of from.items[kind]) {
      if (into.items[kind].length < maxItemsPerKind) into.items[kind].push(item);
    }
  }
}

/**
 * What an org's ledger says about its wallet. Allocations in (the orchestrator's transfer and every
 * auto-refill) are credits the customer was given; usage net of refunds is what it spent. Credits leave
 * a live child wallet only through usage, so balance + spent ≥ allocated must hold; a shortfall means
 * credits went out some other way (a transfer out, a negative adjustment) or the ledger does not add up.
 * Other inflows (grants, purchases) count in the customer's favour.
 */
export function walletShortfall(
  balance: number,
  events: Array<{ eventType: string; credits: number }>,
): { allocated: number; spent: number; shortfall: number } {
  let allocated = 0;
  let spent = 0;
  for (const e of events) {
    if (e.eventType === 'allocation' && e.credits > 0) allocated += e.credits;
    else if (e.eventType === 'usage') spent += -e.credits;
    else if (e.eventType === 'refund') spent -= Math.abs(e.credits);
  }
  return { allocated, spent, shortfall: Math.max(0, allocated - spent - balance) };
}
