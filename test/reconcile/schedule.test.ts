import { ScheduleNotFoundError, type ScheduleDescription } from '@temporalio/client';
import { ConfigError } from '../../common/connection';
import { DEFAULT_RECONCILE_CRON, RECONCILE_SCHEDULE_ID } from '../../common/reconcile';
import {
  PAUSED_BY_CONFIG_NOTE,
  ensureReconcileSchedule,
  reconcileCronFromEnv,
} from '../../worker/reconcile-schedule';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { spawnWorker, untilPolling, workerEnv, type WorkerProcess } from '../helpers/processes';

// `npm run worker` creates the `layers-reconcile` schedule or brings it up to date: a second worker
// (a replica, a restart) neither duplicates it nor fails. The schedule id is one per namespace, so
// this suite removes it before and after.

/** A worker in its own process group: tsx runs it in a child process of its own, and kill reaches both. */
function startWorker(env: OnboardingTestEnv, extra: Record<string, string>): WorkerProcess {
  return spawnWorker({ ...workerEnv(env), ...extra }, { detached: true });
}

async function removeSchedule(env: OnboardingTestEnv): Promise<void> {
  await env.temporal.client.schedule
    .getHandle(RECONCILE_SCHEDULE_ID)
    .delete()
    .catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
}

async function schedulesNamedReconcile(env: OnboardingTestEnv): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of env.temporal.client.schedule.list()) {
    if (s.scheduleId === RECONCILE_SCHEDULE_ID) ids.push(s.scheduleId);
  }
  return ids;
}

function describeSchedule(env: OnboardingTestEnv): Promise<ScheduleDescription> {
  return env.temporal.client.schedule.getHandle(RECONCILE_SCHEDULE_ID).describe();
}

type Range = Array<{ start: number; end: number }>;

/** The hour and minute of the schedule's one calendar (the server stores a cron as a calendar spec). */
function timeOfDay(description: ScheduleDescription): { hour?: number; minute?: number; calendars: number } {
  const spec = description.spec as { calendars?: Array<{ hour?: Range; minute?: Range }> };
  const calendar = spec.calendars?.[0];
  return {
    hour: calendar?.hour?.[0]?.start,
    minute: calendar?.minute?.[0]?.start,
    calendars: spec.calendars?.length ?? 0,
  };
}

describe('the layers-reconcile schedule', () => {
  let env: OnboardingTestEnv;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await startOnboardingTestEnv();
    await removeSchedule(env);
  });
  afterAll(async () => {
    for (const w of workers) w.kill();
    if (env) await removeSchedule(env);
    await env?.close();
  });

  test('RECONCILE_SCHEDULE: a cron (UTC), "off", or a clear error naming the variable', () => {
    expect(reconcileCronFromEnv({})).toBe(DEFAULT_RECONCILE_CRON);
    expect(reconcileCronFromEnv({ RECONCILE_SCHEDULE: '15 2 * * *' })).toBe('15 2 * * *');
    expect(reconcileCronFromEnv({ RECONCILE_SCHEDULE: 'off' })).toBeNull();
    expect(() => reconcileCronFromEnv({ RECONCILE_SCHEDULE: 'every night' })).toThrow(ConfigError);
    expect(() => reconcileCronFromEnv({ RECONCILE_SCHEDULE: 'every night' })).toThrow(
      /^RECONCILE_SCHEDULE: /,
    );
  });

  test('two worker processes: the first creates it, the second updates it; one schedule, the latest cron', async () => {
    const first = startWorker(env, { RECONCILE_SCHEDULE: '0 4 * * *' });
    workers.push(first);
    await untilPolling(first);
    expect(first.output()).toContain(`schedule ${RECONCILE_SCHEDULE_ID} created`);
    expect(timeOfDay(await describeSchedule(env))).toEqual({ hour: 4, minute: 0, calendars: 1 });

    const second = startWorker(env, { RECONCILE_SCHEDULE: '15 2 * * *' });
    workers.push(second);
    await untilPolling(second);
    expect(second.output()).toContain(`schedule ${RECONCILE_SCHEDULE_ID} updated`);
    expect(second.output()).not.toMatch(/could not create or update the reconcile schedule/);

    const description = await describeSchedule(env);
    expect(await schedulesNamedReconcile(env)).toEqual([RECONCILE_SCHEDULE_ID]);
    expect(timeOfDay(description)).toEqual({ hour: 2, minute: 15, calendars: 1 });
    expect(description.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'reconcile',
      taskQueue: env.taskQueue,
    });
    expect(description.state.paused).toBe(false);
    // Both workers are still serving.
    expect([first.child.exitCode, second.child.exitCode]).toEqual([null, null]);
  });

  test('replicas starting at once converge on one schedule; "off" pauses it and a cron lifts only that pause', async () => {
    await removeSchedule(env);
    const client = env.temporal.client;
    const outcomes = await Promise.all(
      [1, 2, 3].map(() => ensureReconcileSchedule(client, { cron: '30 3 * * *', taskQueue: env.taskQueue })),
    );
    expect(outcomes.sort()).toEqual(['created', 'updated', 'updated']);
    expect(await schedulesNamedReconcile(env)).toEqual([RECONCILE_SCHEDULE_ID]);

    expect(await ensureReconcileSchedule(client, { cron: null, taskQueue: env.taskQueue })).toBe('paused');
    expect((await describeSchedule(env)).state).toMatchObject({ paused: true, note: PAUSED_BY_CONFIG_NOTE });
    expect(await ensureReconcileSchedule(client, { cron: '30 3 * * *', taskQueue: env.taskQueue })).toBe(
      'updated',
    );
    expect((await describeSchedule(env)).state.paused).toBe(false);

    // An operator's pause (Web UI) survives a worker restart.
    await client.schedule.getHandle(RECONCILE_SCHEDULE_ID).pause('investigating a drift report');
    await ensureReconcileSchedule(client, { cron: '30 3 * * *', taskQueue: env.taskQueue });
    expect((await describeSchedule(env)).state).toMatchObject({
      paused: true,
      note: 'investigating a drift report',
    });

    await removeSchedule(env);
    expect(await ensureReconcileSchedule(client, { cron: null, taskQueue: env.taskQueue })).toBe('absent');
    expect(await schedulesNamedReconcile(env)).toEqual([]);
  });
});
