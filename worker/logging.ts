import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { Runtime, makeTelemetryFilterString, type MetricsExporterConfig } from '@temporalio/worker';
import {
  createLogger,
  LevelMethodsLogger,
  logLevelFromEnv,
  PinoSdkLogger,
  redactLogMeta,
  summarizeInvalidInput,
  type Logger,
} from '../common/logger';
import { redactSecrets } from '../common/redact';
import type { Env } from '../common/connection';

export { logLevelFromEnv, redactLogMeta };

/**
 * Every log line of the worker process — the SDK's own, workflow `log` (forwarded through sinks),
 * activity `log`, and Core's forwarded logs — goes through the Runtime logger: wrapping it here scrubs
 * Layers keys, signing secrets and bearer tokens from messages and metadata in one place.
 */
const EXPECTED_NO_WORKFLOWS = 'No workflows registered, not polling for workflow tasks';

export class RedactingLogger extends LevelMethodsLogger {
  constructor(private readonly inner: SdkLogger) {
    super();
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    // The Layers read/write task queues are activity-only by design: the SDK's warning about it is noise.
    if (level === 'WARN' && message === EXPECTED_NO_WORKFLOWS) return;
    // Invalid input is an expected, final outcome: one WARN line naming the field, no stack trace.
    const summarized = summarizeInvalidInput(level, meta);
    this.inner.log(
      summarized.level,
      redactSecrets(String(message)),
      summarized.meta === undefined ? undefined : (redactLogMeta(summarized.meta) as LogMetadata),
    );
  }
}

export interface WorkerRuntime {
  /** The process's structured logger (the same pino instance the SDK's lines go to). */
  logger: Logger;
  /** The SDK-shaped view of it, as installed in the Runtime. */
  sdkLogger: SdkLogger;
}

/**
 * Install the Temporal Runtime with JSON logging (LOG_LEVEL) and, when given, the Prometheus exporter;
 * call once, before any connection or worker. Core's own logs are forwarded to the same logger (rather
 * than printed by Core), so they are structured and scrubbed too.
 */
export function installWorkerRuntime(
  env: Env = process.env,
  metrics?: MetricsExporterConfig,
  logger?: Logger,
): WorkerRuntime {
  const level = logLevelFromEnv(env);
  const root = logger ?? createLogger({ level, component: 'worker' });
  const sdkLogger = new RedactingLogger(new PinoSdkLogger(root));
  Runtime.install({
    logger: sdkLogger,
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      ...(metrics ? { metrics } : {}),
    },
  });
  return { logger: root, sdkLogger };
}

/** The demo's entry point (scripts/demo.ts): installWorkerRuntime, answering the SDK-shaped logger. */
export function installRedactingRuntime(env: Env = process.env, metrics?: MetricsExporterConfig): SdkLogger {
  return installWorkerRuntime(env, metrics).sdkLogger;
}
