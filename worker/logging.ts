import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { DefaultLogger, Runtime, makeTelemetryFilterString, type MetricsExporterConfig } from '@temporalio/worker';
import { REDACTED, redactSecrets } from '../common/redact';
import { ConfigError } from '../common/connection';

type Env = Record<string, string | undefined>;

const SECRET_KEYS = /^(secret|signingSecret|authorization|password|token|apiKey|parentKey|hmacKey|x-api-key)$/i;

/** A copy of log metadata with every string scrubbed; errors keep their name, and scrubbed message and stack. */
export function redactLogMeta(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6 || seen.has(value)) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const copy = new Error(redactSecrets(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : redactSecrets(value.stack);
    if (value.cause !== undefined) copy.cause = redactLogMeta(value.cause, depth + 1, seen);
    return copy;
  }
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map((v) => redactLogMeta(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEYS.test(key) && typeof v === 'string' ? REDACTED : redactLogMeta(v, depth + 1, seen);
  }
  return out;
}

/**
 * Every log line of the worker process — the SDK's own, workflow `log` (forwarded through sinks),
 * activity `log`, and Core's forwarded logs — goes through the Runtime logger: wrapping it here scrubs
 * Layers keys, signing secrets and bearer tokens from messages and metadata in one place.
 */
const EXPECTED_NO_WORKFLOWS = 'No workflows registered, not polling for workflow tasks';

export class RedactingLogger implements Logger {
  constructor(private readonly inner: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    // The Layers read/write task queues are activity-only by design: the SDK's warning about it is noise.
    if (level === 'WARN' && message === EXPECTED_NO_WORKFLOWS) return;
    this.inner.log(level, redactSecrets(String(message)), meta === undefined ? undefined : (redactLogMeta(meta) as LogMetadata));
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** `LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR; default INFO). */
export function logLevelFromEnv(env: Env = process.env): LogLevel {
  const raw = env.LOG_LEVEL?.trim().toUpperCase();
  if (!raw) return 'INFO';
  if (!(LEVELS as readonly string[]).includes(raw)) throw new ConfigError(`LOG_LEVEL: must be one of ${LEVELS.join(', ')}`);
  return raw as LogLevel;
}

/** Install the Temporal Runtime with the redacting logger; call once, before any connection or worker. */
export function installRedactingRuntime(env: Env = process.env, metrics?: MetricsExporterConfig): Logger {
  const logger = new RedactingLogger(new DefaultLogger(logLevelFromEnv(env)));
  // Core's own logs are forwarded to the same logger (rather than printed by Core), so they are scrubbed too.
  Runtime.install({
    logger,
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      ...(metrics ? { metrics } : {}),
    },
  });
  return logger;
}
