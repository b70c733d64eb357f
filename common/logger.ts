import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { pino, stdSerializers, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { ConfigError, type Env } from './connection';
import { REDACTED, redactSecrets } from './redact';

// Structured JSON logs for every process (worker, CLI, gateway): one object a line, with the workflow id,
// run id, activity and customer id as fields an operator can filter on. Every string that reaches a line —
// message, fields, error messages and stacks — is scrubbed of Layers keys, signing secrets and bearer
// tokens first (common/redact.ts), so no caller has to remember to.

export type { Logger };

const SECRET_KEYS =
  /^(secret|signingSecret|authorization|password|token|apiKey|parentKey|hmacKey|x-api-key)$/i;

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

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** `LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR; default INFO). */
export function logLevelFromEnv(env: Env = process.env): LogLevel {
  const raw = env.LOG_LEVEL?.trim().toUpperCase();
  if (!raw) return 'INFO';
  if (!(LEVELS as readonly string[]).includes(raw))
    throw new ConfigError(`LOG_LEVEL: must be one of ${LEVELS.join(', ')}`);
  return raw as LogLevel;
}

/** The customer a workflow id belongs to: customer/<id>, onboarding/<id>, offboarding/<id>, suspend/<id>/<n> (common/ids.ts). */
export function customerIdOf(workflowId: unknown): string | undefined {
  if (typeof workflowId !== 'string') return undefined;
  const match =
    /^(?:customer|onboarding|offboarding)\/(.+)$/.exec(workflowId) ?? /^suspend\/(.+)\/\d+$/.exec(workflowId);
  return match?.[1];
}

export interface CreateLoggerOptions {
  level?: LogLevel | Lowercase<LogLevel> | 'silent';
  /** Which process writes (`worker`, `cli`, `gateway`, …): the `component` field. */
  component?: string;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** A pino logger whose every line is scrubbed. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      level: (options.level ?? 'INFO').toLowerCase() as LevelWithSilent,
      base: { pid: process.pid, ...(options.component ? { component: options.component } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      hooks: {
        logMethod(args, method) {
          const scrubbed = (args as unknown[]).map((arg) => redactLogMeta(arg));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
}

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger interface on top of pino: what the SDK, workflow `log` (through sinks),
 * activity `log` and Core emit becomes one JSON line, with the SDK's metadata renamed to the fields every
 * line of this project uses (workflowId, runId, activity, customerId) and the rest kept as is.
 */
export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = TO_PINO[level] ?? 'info';
    if (!this.logger.isLevelEnabled(method)) return;
    this.logger[method](sdkFields(meta), message);
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

function sdkFields(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  // The task token is left out: whoever holds it can complete the activity.
  const {
    workflowRunId,
    runId,
    activityType,
    taskToken: _taskToken,
    ...rest
  } = meta as Record<string, unknown>;
  const fields: Record<string, unknown> = { ...rest };
  if (runId ?? workflowRunId) fields.runId = runId ?? workflowRunId;
  if (activityType) fields.activity = activityType;
  const customerId = customerIdOf(rest.workflowId);
  if (customerId) fields.customerId = customerId;
  return fields;
}
