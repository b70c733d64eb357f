import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { pino, stdSerializers, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { ConfigError, type Env } from './connection';
import { LayersFailureType, WorkflowFailureType } from './failure-types';
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

/** The SDK logger's per-level methods, each a call of `log`: subclasses write only `log`. */
export abstract class LevelMethodsLogger implements SdkLogger {
  abstract log(level: LogLevel, message: string, meta?: LogMetadata): void;

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

/**
 * The Temporal SDK's logger interface on top of pino: what the SDK, workflow `log` (through sinks),
 * activity `log` and Core emit becomes one JSON line, with the SDK's metadata renamed to the fields every
 * line of this project uses (workflowId, runId, activity, customerId) and the rest kept as is.
 */
export class PinoSdkLogger extends LevelMethodsLogger {
  constructor(private readonly logger: Logger) {
    super();
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = TO_PINO[level] ?? 'info';
    if (!this.logger.isLevelEnabled(method)) return;
    this.logger[method](sdkFields(meta), message);
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

/**
 * Failures that mean "this input is invalid": an expected outcome, already final (non-retryable), whose
 * stack trace says nothing an operator needs. `field` is the first offending field's dotted path.
 */
export interface InvalidInputFailure {
  type: string;
  field?: string;
  message: string;
}

// The onboarding workflow's own rejection (workflows/onboarding.ts), also quoted by the customer
// workflow's failure when its onboarding child was rejected. Errors logged from workflow code reach the
// logger through the sink as plain Errors (the failure type does not survive the worker-thread
// boundary), so it is recognized by the words it always carries.
const INVALID_ONBOARDING_INPUT = /(?:^|: )Invalid onboarding input: /;

/** The field in "<field>: <rule>" (describeIssues), or "Invalid <field>: …" (Layers 422 messages). */
function firstField(text: string): string | undefined {
  return /^(\(input\)|[\w.-]+|"[^"]*"(?:\.[\w.-]+)*): /.exec(text)?.[1];
}

/** The invalid-input failure an SDK log line carries as `error`, or undefined for any other error. */
export function invalidInputFailure(error: unknown): InvalidInputFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const { type, details } = error as { type?: unknown; details?: unknown };
  const detail = Array.isArray(details) ? (details[0] as Record<string, unknown> | undefined) : undefined;
  const invalidOnboarding = INVALID_ONBOARDING_INPUT.exec(error.message);
  if (type === WorkflowFailureType.invalidOnboardingInput || invalidOnboarding) {
    const problems = invalidOnboarding
      ? error.message.slice(invalidOnboarding.index + invalidOnboarding[0].length)
      : '';
    return {
      type: typeof type === 'string' ? type : WorkflowFailureType.invalidOnboardingInput,
      field: firstField(problems),
      message: error.message,
    };
  }
  if (type === LayersFailureType.contract) {
    return {
      type,
      field: typeof detail?.field === 'string' ? detail.field : undefined,
      message: error.message,
    };
  }
  // Input an activity refused (code INVALID_INPUT, activities/layers/failures.ts): details.field names it.
  if (type === LayersFailureType.nonRetryable && detail?.code === 'INVALID_INPUT') {
    return {
      type,
      field: typeof detail.field === 'string' ? detail.field : undefined,
      message: error.message,
    };
  }
  // Layers refused what we sent (422 VALIDATION): details.details.field names it.
  if (type === LayersFailureType.nonRetryable && detail?.status === 422) {
    const inner = detail.details as Record<string, unknown> | null | undefined;
    return {
      type,
      field: typeof inner?.field === 'string' ? inner.field : undefined,
      message: error.message,
    };
  }
  return undefined;
}

/**
 * An SDK log line about an invalid-input failure ("Workflow failed", "Activity failed"), reduced to one
 * WARN line: `failure: {type, message}` and `field`, no stack trace (and no cause, which would carry one).
 * Any other line is returned as it was.
 */
export function summarizeInvalidInput(
  level: LogLevel,
  meta: LogMetadata | undefined,
): { level: LogLevel; meta: LogMetadata | undefined } {
  const failure = invalidInputFailure(meta?.error);
  if (!failure) return { level, meta };
  // `failure`, not `error`: the error serializer would add a stack (and rename the type).
  const { field, ...summary } = failure;
  const { error: _error, ...rest } = meta!;
  return {
    level: level === 'ERROR' ? 'WARN' : level,
    meta: { ...rest, failure: summary, ...(field ? { field } : {}) },
  };
}
