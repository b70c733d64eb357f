/**
 * The benchmark's worker: its own process (so its peak RSS is its own), run as
 * `node --import tsx bench/worker-process.ts` with an IPC channel. It is worker/main.ts's setup —
 * startWorker (connection, whoami pacing, the Layers client), the metrics endpoint, the onCall hook — plus:
 *
 * - BENCH_TUNING (JSON): maxCachedWorkflows / maxConcurrentWorkflowTaskExecutions /
 *   maxConcurrentActivityTaskExecutions, to compare settings;
 * - BENCH_LOCAL_ACTIVITIES=1: run every Layers call as a local activity (bench/local-activities.ts);
 * - per workflow, each activity attempt: when it ran (an activity interceptor) and its Layers calls (when
 *   the first began and the last ended, how many, how long inside them) — sent to the parent when it asks
 *   ({type: 'stats'});
 * - its RSS once the workflow bundle is built and the workers are polling (in 'ready'), so the parent
 *   can tell the steady footprint from webpack's bundling peak (the process's lifetime maxRSS).
 */
import { Context, type Info } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LayersCallRecord } from '../activities/layers';
import { loadWorkerConfig } from '../worker/config';
import { installWorkerRuntime } from '../worker/logging';
import { LayersCallMetrics, prometheusExporter } from '../worker/metrics';
import { startWorker, type StartWorkerConfig } from '../worker/worker';

/** One attempt of one activity and its Layers calls; times are wall clock (epoch ms). */
export interface StepRecord {
  activityId: string;
  activityType: string;
  attempt: number;
  local: boolean;
  /** When the worker began and ended executing it (NaN: still running). */
  execStart: number;
  execEnd: number;
  calls: number;
  layersMs: number;
  /** When its first Layers call began and its last one ended (NaN without a call). */
  callsStart: number;
  callsEnd: number;
}

export type WorkerMessage =
  | {
      type: 'ready';
      pacing: { tier: string; writeActivitiesPerSecond?: number; readActivitiesPerSecond?: number };
      /** RSS with the bundle built and every worker polling, before any onboarding. */
      rssAfterBundlingMb: number;
      /** From the process's start to polling: connection, whoami, bundling. */
      startMs: number;
    }
  | { type: 'stats'; peakRssMb: number; byWorkflow: Record<string, StepRecord[]> }
  | { type: 'error'; message: string };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const { logger } = installWorkerRuntime(
    { LOG_LEVEL: 'WARN' },
    config.layers.metricsPort === undefined
      ? undefined
      : prometheusExporter(config.layers.metricsPort, '127.0.0.1'),
  );
  const byWorkflow = new Map<string, Map<string, StepRecord>>();
  const recordOf = (info: Info): StepRecord => {
    const id = info.workflowExecution?.workflowId ?? '(none)';
    let steps = byWorkflow.get(id);
    if (!steps) byWorkflow.set(id, (steps = new Map()));
    const key = `${info.activityId}#${info.attempt}`;
    let s = steps.get(key);
    if (!s)
      steps.set(
        key,
        (s = {
          activityId: info.activityId,
          activityType: info.activityType,
          attempt: info.attempt,
          local: info.isLocal,
          execStart: Date.now(),
          execEnd: Number.NaN,
          calls: 0,
          layersMs: 0,
          callsStart: Number.NaN,
          callsEnd: Number.NaN,
        }),
      );
    return s;
  };
  const timeActivities: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        const s = recordOf(ctx.info);
        s.execStart = Date.now();
        try {
          return await next(input);
        } finally {
          s.execEnd = Date.now();
        }
      },
    },
  });
  const metrics = new LayersCallMetrics();
  const onCall = (call: LayersCallRecord) => {
    metrics.onCall(call);
    let info;
    try {
      info = Context.current().info;
    } catch {
      return; // not inside an activity (whoami at start-up)
    }
    const s = recordOf(info);
    const end = Date.now();
    const start = end - call.durationMs;
    s.callsStart = s.calls ? Math.min(s.callsStart, start) : start;
    s.callsEnd = s.calls ? Math.max(s.callsEnd, end) : end;
    s.calls++;
    s.layersMs += call.durationMs;
  };
  const tuning = process.env.BENCH_TUNING
    ? (JSON.parse(process.env.BENCH_TUNING) as StartWorkerConfig['tuning'])
    : undefined;
  const worker = await startWorker({
    temporal: config.temporal,
    layers: config.layers,
    onCall,
    logger,
    ...(tuning ? { tuning } : {}),
    interceptors: {
      activity: [timeActivities],
      ...(process.env.BENCH_LOCAL_ACTIVITIES === '1'
        ? { workflowModules: [require.resolve('./local-activities')] }
        : {}),
    },
  });
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stats') {
      send({
        type: 'stats',
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        byWorkflow: Object.fromEntries([...byWorkflow].map(([id, steps]) => [id, [...steps.values()]])),
      });
    } else if (message?.type === 'shutdown') {
      worker.shutdown();
    }
  });
  process.on('disconnect', () => worker.shutdown());
  const running = worker.run();
  running.catch(() => undefined); // awaited below; a failure before then must not count as unhandled
  // Polling: every worker RUNNING, and a moment for the first polls to be in flight.
  while (!worker.workers.every((w) => w.getState() === 'RUNNING')) {
    if (worker.workers.some((w) => w.getState() === 'FAILED' || w.getState() === 'STOPPED')) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
  const { pacing } = worker;
  send({
    type: 'ready',
    pacing: {
      tier: pacing.tier,
      writeActivitiesPerSecond: pacing.writeActivitiesPerSecond,
      readActivitiesPerSecond: pacing.readActivitiesPerSecond,
    },
    rssAfterBundlingMb: process.memoryUsage.rss() / 2 ** 20,
    startMs: Math.round(performance.now()),
  });
  await running;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    console.error(`bench worker: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
