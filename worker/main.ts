import { NativeConnection } from '@temporalio/worker';
import { LayersClient } from '../activities/layers';
import { redactSecrets } from '../common/redact';
import { createSecretSink, describeSecretSink } from '../activities/secret-sinks';
import { codecFromEnv, workerDataConverter } from '../common/codec/data-converter';
import { ConfigError, temporalConnectionOptions } from '../common/connection';
import { loadWorkerConfig, loadWorkerTuning } from './config';
import { discoverPacing } from './pacing';
import { installRedactingRuntime } from './logging';
import { LayersCallMetrics, prometheusExporter } from './metrics';
import { createWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const tuning = loadWorkerTuning();
  const codec = codecFromEnv();
  const dataConverter = workerDataConverter(codec);
  installRedactingRuntime(process.env, config.layers.metricsPort === undefined ? undefined : prometheusExporter(config.layers.metricsPort, config.layers.metricsHost));
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const callMetrics = new LayersCallMetrics();
  const layers = new LayersClient({ baseUrl: config.layers.apiUrl, apiKey: config.layers.parentKey, onCall: callMetrics.onCall });
  try {
    const pacing = await discoverPacing(layers, config.layers.rateLimits, config.layers.rateHeadroom);
    const worker = await createWorker({
      pacing,
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: {
        layers,
        secretSink: createSecretSink(config.layers.secretSink),
        firehose: config.layers.firehose,
        webhookUrlPolicy: config.layers.webhookUrlPolicy,
      },
      dataConverter,
      tuning,
    });
    console.log(
      `worker: polling ${config.temporal.namespace}/${config.temporal.taskQueue} at ${config.temporal.address}; Layers at ${config.layers.apiUrl}` +
        `; secrets to ${describeSecretSink(config.layers.secretSink)}; payload codec ${codec ? `on (encrypting with key ${codec.encryptionKeyId})` : 'off'}` +
        ` (tier ${pacing.tier}: ${pacing.writeActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} writes/s, ${pacing.readActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} read activities/s)` +
        `; partner firehose ${config.layers.firehose ? `${new URL(config.layers.firehose.url).origin} (${config.layers.firehose.events.join(', ')})` : 'not configured'}` +
        (config.layers.metricsPort === undefined ? '' : `; metrics on ${config.layers.metricsHost}:${config.layers.metricsPort}/metrics`),
    );
    // SIGINT/SIGTERM drain in-flight tasks: the SDK's runtime installs those handlers.
    await worker.run();
  } finally {
    await layers.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `worker: configuration: ${err.message}` : `worker: ${redactSecrets((err as Error).message)}`);
  process.exit(1);
});
