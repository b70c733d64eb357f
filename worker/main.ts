import { NativeConnection } from '@temporalio/worker';
import { LayersClient } from '../activities/layers';
import { FileSecretSink } from '../activities/secret-sink';
import { ConfigError, loadWorkerConfig, temporalConnectionOptions } from './config';
import { discoverPacing } from './pacing';
import { createWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const layers = new LayersClient({ baseUrl: config.layers.apiUrl, apiKey: config.layers.parentKey });
  try {
    const pacing = await discoverPacing(layers, config.layers.rateLimits, config.layers.rateHeadroom);
    const worker = await createWorker({
      pacing,
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: { layers, secretSink: new FileSecretSink(config.layers.secretSinkDir) },
    });
    console.log(
      `worker: polling ${config.temporal.namespace}/${config.temporal.taskQueue} at ${config.temporal.address}; Layers at ${config.layers.apiUrl}` +
        ` (tier ${pacing.tier}: ${pacing.writeActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} writes/s, ${pacing.readActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} read activities/s)`,
    );
    // SIGINT/SIGTERM drain in-flight tasks: the SDK's runtime installs those handlers.
    await worker.run();
  } finally {
    await layers.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `worker: configuration: ${err.message}` : `worker: ${(err as Error).message}`);
  process.exit(1);
});
