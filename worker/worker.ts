import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { LayersClient, type LayersCallRecord } from '../activities/layers';
import { createSecretSink } from '../activities/secret-sinks';
import {
  ConfigError,
  connectWithRetry,
  temporalConnectionOptions,
  type Env,
  type TemporalConfig,
} from '../common/connection';
import { layersReadQueue, layersWriteQueue } from '../common/ids';
import type { Logger } from '../common/logger';
import { TRACING_WORKFLOW_INTERCEPTORS, workerTracing, type Tracing } from '../common/tracing';
import { DEFAULT_MAX_CACHED_WORKFLOWS, type LayersConfig } from './config';
import { METRICS_WORKFLOW_INTERCEPTORS } from './metrics';
import { discoverPacing, type Pacing } from './pacing';
import {
  bootstrapCurrentVersion,
  workerDeploymentOptions,
  type BootstrapOutcome,
  type WorkerVersioning,
} from './versioning';

export const WORKFLOWS_PATH = path.resolve(__dirname, '../workflows');

/** How long a stopping worker lets running activities finish before cancelling them (WORKER_SHUTDOWN_GRACE_TIME). */
export const DEFAULT_SHUTDOWN_GRACE_TIME_MS = 30_000;

type Tuning = Pick<
  WorkerOptions,
  | 'maxCachedWorkflows'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentWorkflowTaskExecutions'
  // How often a heartbeat reaches the server at most (the reconcile scan's resumable cursor); tests shorten it.
  | 'maxHeartbeatThrottleInterval'
>;

/**
 * Everything a worker needs. The process entry points (worker/main.ts, the benchmark) pass settings and
 * let startWorker open the Temporal connection and build the Layers client; tests pass a shared
 * connection, ready-made activity dependencies and a pre-built bundle instead.
 */
export interface StartWorkerConfig {
  temporal: Pick<TemporalConfig, 'namespace' | 'taskQueue'> & Partial<TemporalConfig>;
  /** An open connection; otherwise one is opened from `temporal`, waiting while the server is unreachable. */
  connection?: NativeConnection;
  /** Layers settings: the client, the secret sink and the pacing (whoami) are built from them. Or: */
  layers?: LayersConfig;
  /** Ready activity dependencies (tests). */
  deps?: ActivityDeps;
  /** Told of every Layers call the built client makes (metrics, the benchmark's accounting). */
  onCall?: (call: LayersCallRecord) => void;
  /** Server-side pacing of the Layers task queues; default: discovered from whoami when `layers` is given, else unpaced. */
  pacing?: Pacing;
  /** A pre-built bundle (tests bundle once); otherwise the workflows are bundled at start-up. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Slot settings; maxCachedWorkflows defaults to DEFAULT_MAX_CACHED_WORKFLOWS, the rest to the SDK's (bench/RESULTS.md). */
  tuning?: Tuning;
  interceptors?: WorkerOptions['interceptors'];
  /**
   * Trace workflows and activities (common/tracing.ts): activity interceptors, the workflows' span sink and,
   * when bundling here, the workflow interceptor module; a pre-built bundle must carry that module itself.
   */
  tracing?: Tracing;
  dataConverter?: WorkerOptions['dataConverter'];
  /** Default DEFAULT_SHUTDOWN_GRACE_TIME_MS. */
  shutdownGraceTimeMs?: number;
  logger?: Logger;
  /** Stops waiting for an unreachable server (SIGTERM during start-up). */
  signal?: AbortSignal;
  /**
   * Worker Deployment versioning (worker/versioning.ts); absent: an unversioned worker. worker/main.ts
   * passes loadWorkerVersioning() (on by default); tests and the benchmark leave it out unless they test it.
   */
  versioning?: WorkerVersioning;
}

/**
 * One process, three pollers: workflows on the main queue, Layers writes and reads on their own queues
 * so the server paces them across every replica. Runs and stops as one; what startWorker opened (the
 * connection, the Layers client) is closed once it has stopped.
 */
export class WorkerGroup {
  /** A client on the worker's connection (the reconcile schedule, visibility queries); set by startWorker. */
  temporalClient?: Client;
  /** Set by startWorker for a versioned worker: what run() does about the deployment's current version. */
  versioning?: { config: WorkerVersioning; namespace: string; logger?: Logger };
  /** Settles once a versioned worker has checked (and perhaps set) the current version; undefined otherwise. */
  versionBootstrap?: Promise<BootstrapOutcome>;
  private readonly stopBootstrap = new AbortController();

  constructor(
    readonly workers: Worker[],
    readonly pacing: Pacing = { tier: 'unknown' },
    private readonly cleanup: Array<() => Promise<void>> = [],
  ) {}

  async run(): Promise<void> {
    try {
      const running = Promise.all(this.workers.map((w) => w.run()));
      this.startVersionBootstrap();
      await running;
    } finally {
      await this.close();
    }
  }

  async runUntil<T>(fn: Promise<T> | (() => Promise<T>)): Promise<T> {
    const [main, ...others] = this.workers;
    const running = others.map((w) => w.run());
    try {
      const untilDone = main!.runUntil(fn);
      this.startVersionBootstrap();
      return await untilDone;
    } finally {
      for (const w of others) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      await this.close();
    }
  }

  /** Stop polling; running activities get the shutdown grace time to finish. SIGINT/SIGTERM do this too (the SDK's Runtime). */
  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }

  /** Closes what startWorker opened; run() and runUntil() do this when they end (call it for a group never run). */
  async close(): Promise<void> {
    this.stopBootstrap.abort();
    await this.versionBootstrap;
    for (const step of this.cleanup.splice(0).reverse()) await step();
  }

  /** The version registers with the pollers' first calls, so this runs beside them, not before. */
  private startVersionBootstrap(): void {
    if (!this.versioning || !this.temporalClient || this.versionBootstrap) return;
    const { config, namespace, logger } = this.versioning;
    this.versionBootstrap = bootstrapCurrentVersion({
      client: this.temporalClient,
      namespace,
      versioning: config,
      logger,
      signal: this.stopBootstrap.signal,
    }).catch((err: unknown) => ({ kind: 'failed' as const, error: (err as Error).message }));
  }
}

/** `WORKER_SHUTDOWN_GRACE_TIME`: `30s`, `500ms`, `2m`, or a number of seconds. */
export function shutdownGraceTimeFromEnv(env: Env = process.env): number {
  const raw = env.WORKER_SHUTDOWN_GRACE_TIME?.trim();
  if (!raw) return DEFAULT_SHUTDOWN_GRACE_TIME_MS;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(raw);
  if (!match) throw new ConfigError('WORKER_SHUTDOWN_GRACE_TIME: must be a duration like 30s, 500ms or 2m');
  const unit = match[2] ?? 's';
  return Math.round(Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1_000 : 60_000));
}

/**
 * The one way this project starts a worker: worker/main.ts, the benchmark's worker process and the tests
 * all come through here, so they run the same three pollers with the same defaults.
 */
export async function startWorker(config: StartWorkerConfig): Promise<WorkerGroup> {
  const cleanup: Array<() => Promise<void>> = [];
  try {
    let connection = config.connection;
    if (!connection) {
      if (!config.temporal.address) throw new ConfigError('TEMPORAL_ADDRESS: required to connect');
      const options = temporalConnectionOptions(config.temporal as TemporalConfig);
      const opened = await connectWithRetry(() => NativeConnection.connect(options), {
        target: options.address,
        logger: config.logger,
        signal: config.signal,
      });
      cleanup.push(() => opened.close());
      connection = opened;
    }
    let deps = config.deps;
    let pacing = config.pacing;
    if (!deps) {
      if (!config.layers) throw new Error('startWorker: give either `layers` settings or ready `deps`');
      const layers = new LayersClient({
        baseUrl: config.layers.apiUrl,
        apiKey: config.layers.parentKey,
        onCall: config.onCall,
      });
      cleanup.push(() => layers.close());
      deps = {
        layers,
        secretSink: createSecretSink(config.layers.secretSink),
        firehose: config.layers.firehose,
        webhookUrlPolicy: config.layers.webhookUrlPolicy,
        crmEvents: config.layers.crmEvents,
      };
      pacing ??= await discoverPacing(
        layers,
        config.layers.rateLimits,
        config.layers.rateHeadroom,
        config.logger,
      );
    }
    // The reconcile scan lists customer workflows through visibility, on the worker's own connection; the
    // schedule's workflow arguments go through the same payload codec as everything else.
    const temporalClient =
      deps.temporalClient ??
      new Client({ connection, namespace: config.temporal.namespace, dataConverter: config.dataConverter });
    deps = { ...deps, temporalClient };
    const group = new WorkerGroup(
      await createWorkerGroup({ ...config, connection, deps, pacing }),
      pacing,
      cleanup,
    );
    group.temporalClient = temporalClient;
    if (config.versioning)
      group.versioning = {
        config: config.versioning,
        namespace: config.temporal.namespace,
        logger: config.logger,
      };
    return group;
  } catch (err) {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function createWorkerGroup(
  config: StartWorkerConfig & { connection: NativeConnection; deps: ActivityDeps },
): Promise<Worker[]> {
  const activities = createActivities(config.deps);
  const graceMs = config.shutdownGraceTimeMs ?? DEFAULT_SHUTDOWN_GRACE_TIME_MS;
  const tracing = config.tracing && workerTracing(config.tracing);
  const interceptors = tracing
    ? { ...config.interceptors, activity: [...(config.interceptors?.activity ?? []), ...tracing.activity] }
    : config.interceptors;
  const common = {
    connection: config.connection,
    namespace: config.temporal.namespace,
    interceptors,
    dataConverter: config.dataConverter,
    maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
    // Running activities finish (they are idempotent, but a cut-off call is a retry and a start-to-close
    // timeout later); after the grace time they are cancelled, and a little after that the worker gives up.
    shutdownGraceTime: graceMs,
    shutdownForceTime: graceMs + 15_000,
    // All three pollers announce the same version: a pinned workflow's activities must reach the same build.
    workerDeploymentOptions: workerDeploymentOptions(config.versioning),
    ...config.tuning,
  };
  const main = await Worker.create({
    ...common,
    taskQueue: config.temporal.taskQueue,
    activities,
    ...(tracing ? { sinks: tracing.sinks } : {}),
    ...(config.workflowBundle
      ? { workflowBundle: config.workflowBundle } // a pre-built bundle carries its own interceptor modules
      : {
          workflowsPath: require.resolve(WORKFLOWS_PATH),
          interceptors: {
            ...interceptors,
            workflowModules: [
              ...(interceptors?.workflowModules ?? []),
              METRICS_WORKFLOW_INTERCEPTORS,
              ...(tracing ? [TRACING_WORKFLOW_INTERCEPTORS] : []),
            ],
          },
        }),
  });
  const writes = await Worker.create({
    ...common,
    taskQueue: layersWriteQueue(config.temporal.taskQueue),
    activities,
    maxTaskQueueActivitiesPerSecond: config.pacing?.writeActivitiesPerSecond,
  });
  const reads = await Worker.create({
    ...common,
    taskQueue: layersReadQueue(config.temporal.taskQueue),
    activities,
    maxTaskQueueActivitiesPerSecond: config.pacing?.readActivitiesPerSecond,
  });
  return [main, writes, reads];
}
