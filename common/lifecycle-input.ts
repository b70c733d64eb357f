import { z } from 'zod';
import { requiredOr } from './input-errors';
import { describeIssues, type ParseResult } from './onboarding-input';

// Payloads of the lifecycle signals (pause / resume / churn). Pure code: it runs in the CRM-facing
// client and again inside the workflow (a signal can be sent by anything that reaches the namespace),
// so no Node built-ins and no clock of its own — the caller passes `nowMs` (workflow time in a workflow).

/** A pause or a churn scheduled further out than this is a typo (a year 2206 instead of 2026). */
export const MAX_SCHEDULE_AHEAD_MS = 5 * 366 * 24 * 60 * 60 * 1000;

const DATE_TIME_HINT = 'must be an ISO 8601 date-time with a time zone, e.g. 2026-07-01T09:00:00Z';

const reasonSchema = z
  .string({ error: requiredOr('must be a string') })
  .trim()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters');

/** The caller's id for this request (e.g. the CRM event id): the workflow ignores a repeat of it. */
const eventIdSchema = z
  .string({ error: requiredOr('must be a string') })
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

const dateTimeSchema = z.iso.datetime({ offset: true, error: DATE_TIME_HINT });

export const pauseRequestSchema = z
  .object({
    reason: reasonSchema,
    /** Resume automatically at this time; must be in the future (checked by `parseLifecycleRequest`). */
    until: dateTimeSchema.optional(),
    eventId: eventIdSchema,
  })
  .strict();

export const resumeRequestSchema = z
  .object({
    reason: reasonSchema,
    eventId: eventIdSchema,
  })
  .strict();

export const churnRequestSchema = z
  .object({
    reason: reasonSchema,
    /** Offboard at this time rather than now; must be in the future (checked by `parseLifecycleRequest`). */
    effectiveAt: dateTimeSchema.optional(),
    /** Let in-flight work finish (credits settle) before archiving. */
    drain: z.boolean({ error: 'must be true or false' }).optional(),
    eventId: eventIdSchema,
  })
  .strict();

/** Cancels a churn whose effectiveAt has not come yet. */
export const reactivateRequestSchema = z
  .object({
    reason: reasonSchema,
    eventId: eventIdSchema,
  })
  .strict();

export type PauseRequest = z.output<typeof pauseRequestSchema>;
export type ResumeRequest = z.output<typeof resumeRequestSchema>;
export type ChurnRequest = z.output<typeof churnRequestSchema>;
export type ReactivateRequest = z.output<typeof reactivateRequestSchema>;

export const LIFECYCLE_REQUEST_KINDS = ['pause', 'resume', 'churn'] as const;
export type LifecycleRequestKind = (typeof LIFECYCLE_REQUEST_KINDS)[number];
export interface LifecycleRequests {
  pause: PauseRequest;
  resume: ResumeRequest;
  churn: ChurnRequest;
}

const SCHEMAS = {
  pause: pauseRequestSchema,
  resume: resumeRequestSchema,
  churn: churnRequestSchema,
} as const;
const SCHEDULED_FIELD = { pause: 'until', resume: undefined, churn: 'effectiveAt' } as const;

/**
 * Validate a lifecycle signal payload. Errors name the field and the rule, like `parseOnboardingInput`:
 * `until: must be in the future (got 2020-01-01T00:00:00Z)`. A scheduled time must be later than
 * `nowMs` and at most five years ahead.
 */
export function parseLifecycleRequest<K extends LifecycleRequestKind>(
  kind: K,
  value: unknown,
  nowMs: number,
): ParseResult<LifecycleRequests[K]> {
  const schema = SCHEMAS[kind];
  if (!schema) return { ok: false, errors: [`(kind): must be one of ${LIFECYCLE_REQUEST_KINDS.join(', ')}`] };
  const result = schema.safeParse(value);
  if (!result.success) return { ok: false, errors: describeIssues(result.error) };
  const field = SCHEDULED_FIELD[kind];
  const when = field ? ((result.data as Record<string, unknown>)[field] as string | undefined) : undefined;
  if (field && when !== undefined) {
    const at = Date.parse(when);
    if (!Number.isFinite(at)) return { ok: false, errors: [`${field}: ${DATE_TIME_HINT}`] };
    if (at <= nowMs) return { ok: false, errors: [`${field}: must be in the future (got ${when})`] };
    if (at - nowMs > MAX_SCHEDULE_AHEAD_MS)
      return { ok: false, errors: [`${field}: must be at most 5 years ahead (got ${when})`] };
  }
  return { ok: true, value: result.data as LifecycleRequests[K] };
}

// --- the workflow's own check: replay-safe by construction ------------------------------------------
//
// A decision made in workflow code is re-made on every replay, so it must not change under a replay: a
// zod release (or a Node/ICU update, for anything using Intl) could accept on replay a signal refused
// when it arrived, and the workflow would then issue commands its history never had. Updates are
// checked by zod in their validator, which Temporal runs only when the update arrives and never on
// replay (an accepted update is recorded as accepted). Signals have no validator, so the workflow checks
// them with the plain code below: no library, no Intl, only ECMAScript-specified parsing of the one ISO
// format it accepts. Changing these rules is a workflow change like any other (behind `patched()`).

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

const FIELDS = {
  pause: ['reason', 'until', 'eventId'],
  resume: ['reason', 'eventId'],
  churn: ['reason', 'effectiveAt', 'drain', 'eventId'],
  reactivate: ['reason', 'eventId'],
} as const;

/**
 * The same rules as the zod schemas plus `parseLifecycleRequest`, in plain code (see above). Returns the
 * normalised request (reason trimmed) or the problems, each naming its field.
 */
export function checkLifecycleRequest<K extends LifecycleRequestKind | 'reactivate'>(
  kind: K,
  value: unknown,
  nowMs: number,
): ParseResult<K extends LifecycleRequestKind ? LifecycleRequests[K] : ReactivateRequest> {
  const fields = FIELDS[kind] as readonly string[] | undefined;
  if (!fields)
    return {
      ok: false,
      errors: [`(kind): must be one of ${[...LIFECYCLE_REQUEST_KINDS, 'reactivate'].join(', ')}`],
    };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, errors: ['(root): must be an object'] };
  const input = value as Record<string, unknown>;
  const errors: string[] = [];
  for (const key of Object.keys(input))
    if (!fields.includes(key)) errors.push(`${key}: is not a known field`);
  const out: Record<string, unknown> = {};

  const reason = input.reason;
  if (typeof reason !== 'string') errors.push('reason: must be a string');
  else if (reason.trim().length === 0) errors.push('reason: must not be empty');
  else if (reason.trim().length > 500) errors.push('reason: must be at most 500 characters');
  else out.reason = reason.trim();

  const eventId = input.eventId;
  if (typeof eventId !== 'string') errors.push('eventId: must be a string');
  else if (eventId.length === 0) errors.push('eventId: must not be empty');
  else if (eventId.length > 200) errors.push('eventId: must be at most 200 characters');
  else if (CONTROL_CHARS.test(eventId)) errors.push('eventId: must not contain control characters');
  else out.eventId = eventId;

  for (const field of ['until', 'effectiveAt'] as const) {
    if (!fields.includes(field) || input[field] === undefined) continue;
    const when = input[field];
    const at = typeof when === 'string' && ISO_WITH_OFFSET.test(when) ? Date.parse(when) : NaN;
    if (!Number.isFinite(at)) errors.push(`${field}: ${DATE_TIME_HINT}`);
    else if (at <= nowMs) errors.push(`${field}: must be in the future (got ${when as string})`);
    else if (at - nowMs > MAX_SCHEDULE_AHEAD_MS)
      errors.push(`${field}: must be at most 5 years ahead (got ${when as string})`);
    else out[field] = when;
  }
  if (fields.includes('drain') && input.drain !== undefined) {
    if (typeof input.drain !== 'boolean') errors.push('drain: must be true or false');
    else out.drain = input.drain;
  }
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: out as K extends LifecycleRequestKind ? LifecycleRequests[K] : ReactivateRequest,
  };
}
