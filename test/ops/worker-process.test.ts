import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { OnboardingClient } from '../../client';
import { onboardingWorkflowId } from '../../common/ids';
import { freePort, startDevServer, type DevServer } from '../../scripts/dev-server';
import { parsePrometheusText, sumMetric } from '../../worker/metrics';
import { childrenOf, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { spawnWorker, untilPolling, workerEnv, type WorkerProcess } from '../helpers/processes';
import { eventually, uniqueTaskQueue } from '../helpers/temporal';

// The worker as operators run it — `worker/main.ts` in its own process — stopped with SIGTERM and
// started before its Temporal server.

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

describe('graceful shutdown: SIGTERM lets the running activity finish, then the worker exits 0', () => {
  let env: OnboardingTestEnv;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => {
    worker?.kill();
    await env?.close();
  });

  test('mid-onboarding: the allocation in flight completes (attempt 1, no timeout), the next worker finishes', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const metricsPort = await freePort();
    // Allocation takes 3 s: SIGTERM arrives while it runs.
    await env.control.faults({
      seed: 'shutdown',
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [3000, 3000] }],
    });
    worker = spawnWorker({
      ...workerEnv(env),
      METRICS_PORT: String(metricsPort),
      WORKER_SHUTDOWN_GRACE_TIME: '20s',
    });
    await untilPolling(worker);
    await env.crm.start(request);
    const onboarding = env.temporal.client.workflow.getHandle(onboardingWorkflowId(externalId));
    await eventually(
      async () => {
        const { raw } = await onboarding.describe();
        return raw.pendingActivities?.some(
          (a) => a.activityType?.name === 'allocateCredits' && Number(a.state) === 2 /* STARTED */,
        );
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );

    // The SDK's own metrics share the endpoint with the product's: task latencies, slots, sticky cache.
    const scrape = parsePrometheusText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    const names = new Set([...scrape.keys()].map((series) => series.replace(/\{.*$/, '')));
    for (const name of [
      'temporal_workflow_task_schedule_to_start_latency_count',
      'temporal_workflow_task_execution_latency_count',
      'temporal_activity_execution_latency_count',
      'temporal_worker_task_slots_available',
      'temporal_sticky_cache_size',
      'layers_api_calls_total',
      'layers_onboardings_started_total',
    ]) {
      expect([name, names.has(name)]).toEqual([name, true]);
    }
    expect(
      sumMetric(scrape, 'temporal_worker_task_slots_available', {
        task_queue: `${env.taskQueue}-layers-write`,
      }),
    ).toBeGreaterThan(0);

    const stoppedAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const stopMs = Date.now() - stoppedAt;
    // The worker waited for the allocation: the transfer exists before any other worker ran.
    const state = await env.control.state();
    const org = childrenOf(state).find((o) => o.metadata?.externalId === externalId);
    expect(
      state.transfers.filter((t) => t.toOrganizationId === org?.id && t.trigger === 'allocate'),
    ).toHaveLength(1);
    expect(worker.output()).toContain('worker: stopped');
    expect(worker.output()).not.toContain(env.emulator.parentKey);
    worker = undefined;

    await env.control.clearFaults();
    const result = await env.run(() => env.crm.result(externalId));
    expect(result.verified).toBe(true);

    const events: HistoryEvent[] = (await onboarding.fetchHistory()).events ?? [];
    const scheduled = new Map<string, string>();
    for (const e of events) {
      if (e.activityTaskScheduledEventAttributes)
        scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
    }
    expect(
      events.filter(
        (e) =>
          e.activityTaskTimedOutEventAttributes ||
          e.activityTaskFailedEventAttributes ||
          e.activityTaskCanceledEventAttributes,
      ),
    ).toEqual([]);
    const started = events.filter((e) => e.activityTaskStartedEventAttributes);
    expect([
      ...new Set(
        started.map((e) => scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId))),
      ),
    ]).toContain('allocateCredits');
    for (const e of started) expect(e.activityTaskStartedEventAttributes!.attempt).toBe(1);
    console.log(
      `graceful shutdown: SIGTERM → exit 0 in ${stopMs} ms (allocation in flight: 3,000 ms latency)`,
    );
  });
});

describe('start-up while Temporal is away: the worker waits, retrying with backoff, then works', () => {
  let emulator: RunningEmulator;
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, quiet: true });
  });
  afterAll(async () => {
    worker?.kill();
    await connection?.close();
    await server?.stop();
    await emulator?.close();
  });

  test('nothing listens at TEMPORAL_ADDRESS; a dev server starts there; the worker connects and onboards', async () => {
    const port = await freePort();
    const taskQueue = uniqueTaskQueue('late-server');
    worker = spawnWorker({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LAYERS_API_URL: emulator.url,
      LAYERS_PARENT_KEY: emulator.parentKey,
      LAYERS_SECRET_SINK_DIR: path.join(os.tmpdir(), `late-server-${port}`),
    });
    const attempts = () => worker!.output().match(/unreachable \(attempt \d+\)/g)?.length ?? 0;
    await eventually(
      async () =>
        attempts() >= 2 || (worker!.child.exitCode !== null && Promise.reject(new Error(worker!.output()))),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    expect(worker.child.exitCode).toBeNull();
    const line = worker
      .output()
      .split('\n')
      .find((l) => l.includes('unreachable (attempt 1)'));
    expect(JSON.parse(line!)).toMatchObject({
      level: 'warn',
      target: `127.0.0.1:${port}`,
      attempt: 1,
      retryInMs: expect.any(Number),
    });

    server = await startDevServer({ port, uiPort: false });
    await untilPolling(worker);
    expect(attempts()).toBeGreaterThanOrEqual(2);

    connection = await Connection.connect({ address: server.address });
    const crm = new OnboardingClient(new Client({ connection, namespace: server.namespace }), taskQueue);
    const request = acmeCoffee();
    await crm.start(request);
    expect((await crm.result(request.customer.externalId)).verified).toBe(true);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    worker = undefined;
  });

  test('SIGTERM while still waiting for Temporal: exits 0 at once', async () => {
    const port = await freePort();
    worker = spawnWorker({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('never-connected'),
      LAYERS_API_URL: emulator.url,
      LAYERS_PARENT_KEY: emulator.parentKey,
      LAYERS_SECRET_SINK_DIR: path.join(os.tmpdir(), `never-connected-${port}`),
    });
    await eventually(
      async () =>
        worker!.output().includes('unreachable (attempt 1)') ||
        (worker!.child.exitCode !== null && Promise.reject(new Error(worker!.output()))),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('worker: stopped during start-up');
    worker = undefined;
  });
});
