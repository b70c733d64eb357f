import { Connection, Client } from '@temporalio/client';
import { OnboardingClient } from '../client/onboarding-client';
import { dataConverterFromEnv } from '../common/codec/data-converter';
import { ConfigError, connectWithRetry, temporalConnectionOptions } from '../common/connection';
import { createLogger } from '../common/logger';
import { clientTracingInterceptors, setUpTracing } from '../common/tracing';
import { loadGatewayConfig } from './config';
import { CustomerService } from './customers';
import { VisibilityAttribution } from './firehose/attribution';
import { HttpCrmForwarder } from './firehose/crm-forwarder';
import { FileSinkFirehoseSecrets, StaticFirehoseSecrets } from './firehose/secrets';
import { buildGateway } from './server';

// `npm run gateway` / `layers-onboarding-gateway`: configuration from the environment, one Temporal
// connection (with the payload codec when TEMPORAL_CODEC_KEYS is set, like the workers), then listen.

export async function main(): Promise<void> {
  const config = loadGatewayConfig();
  // OTEL_EXPORTER_OTLP_ENDPOINT set: each request that starts or messages a workflow roots a trace.
  setUpTracing({ serviceName: 'layers-onboarding-gateway' });
  // Started while Temporal restarts: wait for it (one line per attempt) rather than exit.
  const connection = await connectWithRetry(
    () => Connection.connect(temporalConnectionOptions(config.temporal)),
    {
      target: config.temporal.address,
      logger: createLogger(),
    },
  );
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFromEnv(),
    interceptors: clientTracingInterceptors(),
  });
  const service = new CustomerService(new OnboardingClient(client, config.temporal.taskQueue), {
    namespace: config.temporal.namespace,
    temporalUiUrl: config.temporalUiUrl,
  });
  const app = await buildGateway({
    credentials: { signingSecrets: config.signingSecrets, bearerTokens: config.bearerTokens },
    service,
    bodyLimit: config.bodyLimit,
    rateLimitPerMinute: config.rateLimitPerMinute,
    logger: { level: process.env.LOG_LEVEL?.toLowerCase() ?? 'info' },
    firehose: config.crmEvents
      ? {
          secrets: config.firehose.secretsOverride.length
            ? new StaticFirehoseSecrets(config.firehose.secretsOverride)
            : new FileSinkFirehoseSecrets(config.firehose.secretsDir),
          attribution: new VisibilityAttribution(client),
          forwarder: new HttpCrmForwarder(config.crmEvents.url, config.crmEvents.signingSecret),
        }
      : undefined,
  });
  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info(
    `gateway listening on ${address}${config.crmEvents ? '' : ' (no CRM_EVENTS_URL: /layers/webhooks is off)'}`,
  );
  const stop = async () => {
    await app.close();
    await connection.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(
      err instanceof ConfigError
        ? `configuration error: ${err.message}`
        : `gateway failed to start: ${(err as Error).message}`,
    );
    process.exit(err instanceof ConfigError ? 2 : 1);
  });
}
