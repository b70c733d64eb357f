import type { LayersClient } from '../activities/layers';

/** Per-minute budgets per key (CONTRACT.md "Rate limits"). */
export interface RateBudget {
  read: number;
  write: number;
  longRunning: number;
}

export const TIER_BUDGETS: Record<string, RateBudget | undefined> = {
  standard: { read: 120, write: 60, longRunning: 20 },
  pilot: { read: 1_200, write: 600, longRunning: 60 },
  partner: { read: 6_000, write: 3_000, longRunning: 300 },
  unlimited: undefined,
};

/** The most Layers reads one read-queue activity makes (verify reads the org, its config and its keys). */
export const MAX_READS_PER_ACTIVITY = 3;

export interface Pacing {
  tier: string;
  budget?: RateBudget;
  /** Server-side limits for the write and read task queues; undefined = unpaced. */
  writeActivitiesPerSecond?: number;
  readActivitiesPerSecond?: number;
}

export function pacingFor(tier: string, override?: Partial<RateBudget>, headroom = 0.97): Pacing {
  const known = TIER_BUDGETS[tier];
  const budget =
    override && (override.read || override.write)
      ? { ...(known ?? TIER_BUDGETS.standard!), ...override }
      : known;
  if (!budget) {
    if (tier in TIER_BUDGETS) return { tier }; // unlimited
    // A tier this build does not know: pace as the smallest documented one until told otherwise.
    return pacingFor('standard', undefined, headroom);
  }
  return {
    tier,
    budget,
    // One Layers write per write-queue activity (the project's org pointer is an activity of its own): the
    // server paces activities, the key's budget counts writes. When the project activity wrote twice, a full
    // onboarding ran at 113 % of the partner budget, hidden only by the bucket's minute of burst.
    writeActivitiesPerSecond: (budget.write / 60) * headroom,
    readActivitiesPerSecond: (budget.read / 60 / MAX_READS_PER_ACTIVITY) * headroom,
  };
}

/** Reads the key's tier from whoami; falls back to the smallest tier if Layers cannot be reached. */
export async function discoverPacing(
  layers: LayersClient,
  override?: Partial<RateBudget>,
  headroom?: number,
  logger: { warn(fields: Record<string, unknown>, message: string): void } = {
    warn: (_fields, message) => console.warn(message),
  },
): Promise<Pacing> {
  try {
    const me = await layers.whoami();
    return pacingFor(me.rateLimitTier, override, headroom);
  } catch (err) {
    logger.warn(
      { error: err },
      `worker: whoami failed (${(err as Error).message}); pacing Layers calls as the standard tier`,
    );
    return pacingFor('standard', override, headroom);
  }
}
