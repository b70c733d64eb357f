import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ScheduleNotFoundError, type ScheduleDescription } from '@temporalio/client';
import { ConfigError } from '../../common/connection';
import { DEFAULT_RECONCILE_CRON, RECONCILE_SCHEDULE_ID } from '../../common/reconcile';
import {
  PAUSED_BY_CONFIG_NOTE,
  ensureReconcileSchedule,
  reconcileCronFromEnv,
} from '../../worker/reconcile-schedule';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { ROOT } from './helpers';

// `npm run worker` creates the `layers-reconcile` schedule or brings it up to date: a second worker
// (a replica, a restart) neither duplicates it nor fails. The schedule id is one per namespace, so
// this suite removes it before and after.

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
}

/** tsx runs the worker in a child process of its own: kill the whole group. */
function killGroup(worker: WorkerProcess): void {
  try {
    process.kill(-worker.child.pid!, 'SIGKILL');
  } catch {
    worker.child.kill('SIGKILL');
  }
}

function spawnWorker(env: OnboardingTestEnv, extra: Record<string, string>): WorkerProcess {
  const chunks: string[] = [];
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'worker/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      LOG_LEVEL: 'INFO',
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
      LAYERS_API_URL: env.emulator.url,
      LAYERS_PARENT_KEY: env.emulator.parentKey,
      LAYERS_SECRET_SINK_DIR: env.secretsDir,
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { child, output: () => chunks.join('') };
}

async function untilPolling(worker: WorkerProcess): Promise<void> {
  await eventually(
    async () =>
      worker.output().includes('worker: polling') ||
      (worker.child.exitCode !== null && Promise.reject(new Error(worker.output()))),
    { timeoutMs: 120_000, intervalMs: 250 },
  );
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
    for (const w of workers) killGroup(w);
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
    const first = spawnWorker(env, { RECONCILE_SCHEDULE: '0 4 * * *' });
    workers.push(first);
    await untilPolling(first);
    expect(first.output()).toContain(`schedule ${RECONCILE_SCHEDULE_ID} created`);
    expect(timeOfDay(await describeSchedule(env))).toEqual({ hour: 4, minute: 0, calendars: 1 });

    const second = spawnWorker(env, { RECONCILE_SCHEDULE: '15 2 * * *' });
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
