import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { layersReadQueue, layersWriteQueue } from '../common/ids';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from './config';
import { METRICS_WORKFLOW_INTERCEPTORS } from './metrics';
import type { Pacing } from './pacing';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Server-side pacing of the Layers task queues; omitted = unpaced. */
  pacing?: Pacing;
  /** A pre-built bundle (tests bundle once); otherwise the workflows are bundled at start-up. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Slot settings; maxCachedWorkflows defaults to DEFAULT_MAX_CACHED_WORKFLOWS, the rest to the SDK's (bench/RESULTS.md). */
  tuning?: Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'>;
  interceptors?: WorkerOptions['interceptors'];
  dataConverter?: WorkerOptions['dataConverter'];
}

export const WORKFLOWS_PATH = path.resolve(__dirname, '../workflows');

/**
 * One process, three pollers: workflows on the main queue, Layers writes and reads on their own queues
 * so the server paces them across every replica. Runs and stops as one.
 */
export class WorkerGroup {
  constructor(readonly workers: Worker[]) {}

  async run(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.run()));
  }

  async runUntil<T>(fn: Promise<T> | (() => Promise<T>)): Promise<T> {
    const [main, ...others] = this.workers;
    const running = others.map((w) => w.run());
    try {
      return await main!.runUntil(fn);
    } finally {
      for (const w of others) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
    }
  }

  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }
}

export async function createWorker(options: CreateWorkerOptions): Promise<WorkerGroup> {
  const activities = createActivities(options.deps);
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    interceptors: options.interceptors,
    dataConverter: options.dataConverter,
    maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
    ...options.tuning,
  };
  const main = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    activities,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle } // a pre-built bundle carries its own interceptor modules
      : {
          workflowsPath: require.resolve(WORKFLOWS_PATH),
          interceptors: { ...options.interceptors, workflowModules: [...(options.interceptors?.workflowModules ?? []), METRICS_WORKFLOW_INTERCEPTORS] },
        }),
  });
  const writes = await Worker.create({
    ...common,
    taskQueue: layersWriteQueue(options.taskQueue),
    activities,
    maxTaskQueueActivitiesPerSecond: options.pacing?.writeActivitiesPerSecond,
  });
  const reads = await Worker.create({
    ...common,
    taskQueue: layersReadQueue(options.taskQueue),
    activities,
    maxTaskQueueActivitiesPerSecond: options.pacing?.readActivitiesPerSecond,
  });
  return new WorkerGroup([main, writes, reads]);
}
