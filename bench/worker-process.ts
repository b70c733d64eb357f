/**
 * The benchmark's worker: its own process (so its peak RSS is its own), run as
 * `node --import tsx bench/worker-process.ts` with an IPC channel. It is worker/main.ts's setup —
 * startWorker (connection, whoami pacing, the Layers client), the metrics endpoint, the onCall hook — plus:
 *
 * - BENCH_TUNING (JSON): maxCachedWorkflows / maxConcurrentWorkflowTaskExecutions /
 *   maxConcurrentActivityTaskExecutions, to compare settings;
 * - BENCH_LOCAL_ACTIVITIES=1: run every Layers call as a local activity (bench/local-activities.ts);
 * - per workflow, the time spent inside Layers calls and the number of steps (activities), sent with the
 *   peak RSS to the parent when it asks ({type: 'stats'}).
 */
import { Context } from '@temporalio/activity';
import type { LayersCallRecord } from '../activities/layers';
import { loadWorkerConfig } from '../worker/config';
import { installWorkerRuntime } from '../worker/logging';
import { LayersCallMetrics, prometheusExporter } from '../worker/metrics';
import { startWorker, type StartWorkerConfig } from '../worker/worker';

export interface WorkflowCallStats {
  layersMs: number;
  calls: number;
  steps: number;
  /** Wall clock (epoch ms) when the workflow's first Layers call began and its last one ended. */
  firstCallStart: number;
  lastCallEnd: number;
}

export type WorkerMessage =
  | {
      type: 'ready';
      pacing: { tier: string; writeActivitiesPerSecond?: number; readActivitiesPerSecond?: number };
    }
  | { type: 'stats'; peakRssMb: number; byWorkflow: Record<string, WorkflowCallStats> }
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
  const byWorkflow = new Map<string, WorkflowCallStats & { activityIds: Set<string> }>();
  const metrics = new LayersCallMetrics();
  const onCall = (call: LayersCallRecord) => {
    metrics.onCall(call);
    let info;
    try {
      info = Context.current().info;
    } catch {
      return; // not inside an activity (whoami at start-up)
    }
    const id = info.workflowExecution?.workflowId ?? '(none)';
    let s = byWorkflow.get(id);
    const end = Date.now();
    if (!s)
      byWorkflow.set(
        id,
        (s = {
          layersMs: 0,
          calls: 0,
          steps: 0,
          firstCallStart: end - call.durationMs,
          lastCallEnd: end,
          activityIds: new Set(),
        }),
      );
    s.layersMs += call.durationMs;
    s.firstCallStart = Math.min(s.firstCallStart, end - call.durationMs);
    s.lastCallEnd = Math.max(s.lastCallEnd, end);
    s.calls++;
    if (!s.activityIds.has(info.activityId)) {
      s.activityIds.add(info.activityId);
      s.steps++;
    }
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
    ...(process.env.BENCH_LOCAL_ACTIVITIES === '1'
      ? { interceptors: { workflowModules: [require.resolve('./local-activities')] } }
      : {}),
  });
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stats') {
      send({
        type: 'stats',
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        byWorkflow: Object.fromEntries(
          [...byWorkflow].map(([id, { activityIds: _ids, ...stats }]) => [id, stats]),
        ),
      });
    } else if (message?.type === 'shutdown') {
      worker.shutdown();
    }
  });
  process.on('disconnect', () => worker.shutdown());
  const { pacing } = worker;
  send({
    type: 'ready',
    pacing: {
      tier: pacing.tier,
      writeActivitiesPerSecond: pacing.writeActivitiesPerSecond,
      readActivitiesPerSecond: pacing.readActivitiesPerSecond,
    },
  });
  await worker.run();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    console.error(`bench worker: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
