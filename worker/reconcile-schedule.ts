import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { ConfigError, type Env } from '../common/connection';
import type { Logger } from '../common/logger';
import {
  DEFAULT_RECONCILE_CRON,
  RECONCILE_SCHEDULE_ID,
  SCHEDULED_RECONCILE_WORKFLOW_ID,
} from '../common/reconcile';
import type { reconcile } from '../workflows/reconcile';

/** The note a schedule paused by `RECONCILE_SCHEDULE=off` carries, so only that pause is lifted again. */
export const PAUSED_BY_CONFIG_NOTE = 'paused by RECONCILE_SCHEDULE=off';

const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const CRON_FIELD = /^[0-9A-Za-z*?/,#L-]+$/;

/** `RECONCILE_SCHEDULE`: a cron expression (UTC) or `off`. Default daily 03:00 UTC. */
export function reconcileCronFromEnv(env: Env = process.env): string | null {
  const raw = env.RECONCILE_SCHEDULE?.trim();
  if (!raw) return DEFAULT_RECONCILE_CRON;
  if (raw.toLowerCase() === 'off') return null;
  const fields = raw.split(/\s+/);
  const ok =
    MACROS.includes(raw) ||
    ((fields.length === 5 || fields.length === 6) && fields.every((f) => CRON_FIELD.test(f)));
  if (!ok)
    throw new ConfigError(
      `RECONCILE_SCHEDULE: must be a cron expression like "0 3 * * *" (UTC) or "off" (got "${raw}")`,
    );
  return raw;
}

export type ReconcileScheduleOutcome = 'created' | 'updated' | 'paused' | 'absent';

function desired(
  cron: string,
  taskQueue: string,
  state: ScheduleUpdateOptions['state'],
): ScheduleUpdateOptions<ScheduleOptionsStartWorkflowAction<typeof reconcile>> {
  return {
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconcile',
      workflowId: SCHEDULED_RECONCILE_WORKFLOW_ID,
      taskQueue,
      args: [{}],
      staticSummary: 'Nightly reconciliation of Layers child orgs and customers',
    },
    // One scan at a time; a run missed while the cluster was down is not worth catching up a day later.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false },
    state,
  };
}

/** Lift only a pause this function made; an operator's pause in the Web UI stays. */
function keepState(previous: ScheduleDescription): ScheduleUpdateOptions['state'] {
  const ours = previous.state.paused && previous.state.note === PAUSED_BY_CONFIG_NOTE;
  return ours
    ? { paused: false, note: 'resumed: RECONCILE_SCHEDULE set again' }
    : { paused: previous.state.paused, note: previous.state.note };
}

/**
 * Creates the `layers-reconcile` schedule, or brings an existing one up to date, so that every worker
 * start (any number of replicas, in any order) converges on one schedule with the configured cron.
 * `cron: null` (RECONCILE_SCHEDULE=off) pauses an existing schedule and creates none.
 */
export async function ensureReconcileSchedule(
  client: Client,
  options: { cron: string | null; taskQueue: string; logger?: Logger },
): Promise<ReconcileScheduleOutcome> {
  const { cron, taskQueue, logger } = options;
  const handle = client.schedule.getHandle(RECONCILE_SCHEDULE_ID);
  if (cron === null) {
    try {
      await handle.pause(PAUSED_BY_CONFIG_NOTE);
      logger?.info(
        { scheduleId: RECONCILE_SCHEDULE_ID },
        `reconcile: schedule ${RECONCILE_SCHEDULE_ID} paused (RECONCILE_SCHEDULE=off)`,
      );
      return 'paused';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'absent';
      throw err;
    }
  }
  try {
    await client.schedule.create({ scheduleId: RECONCILE_SCHEDULE_ID, ...desired(cron, taskQueue, {}) });
    logger?.info(
      { scheduleId: RECONCILE_SCHEDULE_ID, cron },
      `reconcile: schedule ${RECONCILE_SCHEDULE_ID} created (${cron} UTC)`,
    );
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw withConfigHint(err, cron);
  }
  // Another replica may update at the same moment: the SDK's update carries a conflict token, and a
  // lost race is simply tried again against the schedule as it now is.
  for (let attempt = 1; ; attempt++) {
    try {
      await handle.update((previous) => desired(cron, taskQueue, keepState(previous)));
      logger?.info(
        { scheduleId: RECONCILE_SCHEDULE_ID, cron },
        `reconcile: schedule ${RECONCILE_SCHEDULE_ID} updated (${cron} UTC)`,
      );
      return 'updated';
    } catch (err) {
      if (attempt >= 5 || (err as { code?: number }).code !== 9 /* FAILED_PRECONDITION: conflict token */)
        throw withConfigHint(err, cron);
    }
  }
}

/** The server refuses a cron it cannot parse with INVALID_ARGUMENT: name the variable. */
function withConfigHint(err: unknown, cron: string): unknown {
  if ((err as { code?: number }).code === 3) {
    return new ConfigError(`RECONCILE_SCHEDULE: Temporal refused "${cron}": ${(err as Error).message}`);
  }
  return err;
}
