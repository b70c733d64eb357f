import { describeSecretSink } from '../activities/secret-sinks';
import { codecFromEnv, workerDataConverter } from '../common/codec/data-converter';
import { ConfigError } from '../common/connection';
import { createLogger, type Logger } from '../common/logger';
import { redactSecrets } from '../common/redact';
import { setUpTracing } from '../common/tracing';
import { loadWorkerConfig, loadWorkerTuning, loadWorkerVersioning } from './config';
import { installWorkerRuntime } from './logging';
import { LayersCallMetrics, prometheusExporter } from './metrics';
import { ensureReconcileSchedule, reconcileCronFromEnv } from './reconcile-schedule';
import { versionName } from './versioning';
import { shutdownGraceTimeFromEnv, startWorker } from './worker';

let logger: Logger | undefined;

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

class StoppedDuringStartup extends Error {
  override name = 'StoppedDuringStartup';
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const tuning = loadWorkerTuning();
  const versioning = loadWorkerVersioning();
  const shutdownGraceTimeMs = shutdownGraceTimeFromEnv();
  const reconcileCron = reconcileCronFromEnv();
  const codec = codecFromEnv();
  const dataConverter = workerDataConverter(codec);
  const metricsPort = config.layers.metricsPort;
  logger = installWorkerRuntime(
    process.env,
    metricsPort === undefined ? undefined : prometheusExporter(metricsPort, config.layers.metricsHost),
  ).logger;
  const callMetrics = new LayersCallMetrics();
  // OTEL_EXPORTER_OTLP_ENDPOINT set: workflows, activities and Layers calls are traced; unset: nothing installed.
  const tracing = setUpTracing({ serviceName: 'layers-onboarding-worker' });
  logger.info(
    {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      ...(config.temporal.profile ? { profile: config.temporal.profile } : {}),
    },
    `worker: connecting to Temporal at ${config.temporal.address}${config.temporal.profile ? ` (profile ${config.temporal.profile})` : ''}`,
  );
  // Until the workers exist (and the SDK's Runtime takes over SIGINT/SIGTERM), a stop request ends the wait
  // for Temporal, or stops the workers as soon as they are created: either way the process exits 0.
  const startup = new AbortController();
  const stopDuringStartup = () => startup.abort(new StoppedDuringStartup());
  for (const signal of SHUTDOWN_SIGNALS) process.once(signal, stopDuringStartup);
  const worker = await startWorker({
    temporal: config.temporal,
    layers: config.layers,
    onCall: callMetrics.onCall,
    dataConverter,
    tuning,
    shutdownGraceTimeMs,
    tracing,
    versioning,
    logger,
    signal: startup.signal,
  });
  for (const signal of SHUTDOWN_SIGNALS) process.off(signal, stopDuringStartup);
  if (startup.signal.aborted) {
    await worker.close();
    throw startup.signal.reason;
  }
  try {
    await ensureReconcileSchedule(worker.temporalClient!, {
      cron: reconcileCron,
      taskQueue: config.temporal.taskQueue,
      logger,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      await worker.close();
      throw err;
    }
    // Onboarding does not depend on the nightly scan: keep serving customers, say so loudly.
    logger.error(
      { error: err },
      `worker: could not create or update the reconcile schedule: ${redactSecrets((err as Error).message)}`,
    );
  }
  const { pacing } = worker;
  logger.info(
    {
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      tier: pacing.tier,
      shutdownGraceTimeMs,
      ...(metricsPort === undefined ? {} : { metricsPort }),
      ...(versioning
        ? {
            deploymentName: versioning.deploymentName,
            buildId: versioning.buildId,
            setCurrent: versioning.setCurrent,
          }
        : { versioning: 'off' }),
    },
    `worker: polling ${config.temporal.namespace}/${config.temporal.taskQueue} at ${config.temporal.address}; Layers at ${config.layers.apiUrl}` +
      `; secrets to ${describeSecretSink(config.layers.secretSink)}; payload codec ${codec ? `on (encrypting with key ${codec.encryptionKeyId})` : 'off'}` +
      ` (tier ${pacing.tier}: ${pacing.writeActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} writes/s, ${pacing.readActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} read activities/s)` +
      `; partner firehose ${config.layers.firehose ? `${new URL(config.layers.firehose.url).origin} (${config.layers.firehose.events.join(', ')})` : 'not configured'}` +
      (metricsPort === undefined ? '' : `; metrics on ${config.layers.metricsHost}:${metricsPort}/metrics`) +
      `; tracing ${tracing ? 'on (OTLP)' : 'off'}` +
      `; versioning ${versioning ? `${versionName(versioning)} (deployment ${versioning.deploymentName}, build ${versioning.buildId}, set current: ${versioning.setCurrent})` : 'off'}`,
  );
  // SIGINT/SIGTERM: the SDK's Runtime shuts every worker down — polling stops, running activities get
  // shutdownGraceTimeMs to finish — and run() returns once they have.
  const running = worker.run();
  running.catch(() => undefined); // awaited below; a failure must not surface as unhandled meanwhile
  // A versioned worker on a server without worker deployments would poll forever and never get a task.
  const decided = await worker.versionBootstrap;
  if (decided?.kind === 'unsupported') {
    worker.shutdown();
    await running.catch(() => undefined);
    throw new ConfigError(
      `TEMPORAL_WORKER_VERSIONING: the server has no worker deployments (${redactSecrets(decided.error)}); set TEMPORAL_WORKER_VERSIONING=off`,
    );
  }
  await running;
  await tracing?.shutdown().catch(() => undefined); // the last spans; a collector that is down loses them
  logger.info({}, 'worker: stopped');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof StoppedDuringStartup) {
      logger?.info({}, 'worker: stopped during start-up');
      process.exit(0);
    }
    const message =
      err instanceof ConfigError
        ? `worker: configuration: ${err.message}`
        : `worker: ${redactSecrets((err as Error).message)}`;
    (logger ?? createLogger({ component: 'worker' })).fatal(
      err instanceof ConfigError ? {} : { error: err },
      message,
    );
    process.exit(1);
  },
);
