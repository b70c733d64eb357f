import type { FastifyRequest } from 'fastify';
import { ProblemError } from './problem';

// The comparison itself is shared with the library's `start` (common/request-hash.ts).
export { canonicalJson, differingFields, requestHash } from '../common/request-hash';

// Idempotency without a database of its own: the key travels into Temporal (the lifecycle request's
// eventId and update id, the onboarding's memo), and Temporal answers repeats. Here: which key a request
// carries, and how two bodies are compared (canonically, so key order and whitespace do not matter).

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** `Idempotency-Key`, else the CRM's own `eventId` in the body; both present must agree. */
export function idempotencyKeyOf(request: FastifyRequest, bodyEventId: unknown): string {
  const header = request.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key !== undefined && !KEY_PATTERN.test(key)) {
    throw new ProblemError(
      400,
      'invalid-idempotency-key',
      'Idempotency-Key: must be 1-200 printable ASCII characters',
      [{ field: 'Idempotency-Key', message: 'must be 1-200 printable ASCII characters' }],
    );
  }
  if (key !== undefined && bodyEventId !== undefined && bodyEventId !== key) {
    throw new ProblemError(
      400,
      'idempotency-key-mismatch',
      'eventId: differs from the Idempotency-Key header (send one, or the same in both)',
      [{ field: 'eventId', message: 'differs from the Idempotency-Key header' }],
    );
  }
  const chosen = key ?? bodyEventId;
  if (typeof chosen !== 'string' || !KEY_PATTERN.test(chosen)) {
    throw new ProblemError(
      400,
      'idempotency-key-required',
      'Idempotency-Key: every write needs one (or the CRM event id as "eventId" in the body)',
      [{ field: 'Idempotency-Key', message: 'required on every write (or "eventId" in the body)' }],
    );
  }
  return chosen;
}

export function conflict(
  detail: string,
  fields: string[],
  extensions: Record<string, unknown> = {},
): ProblemError {
  return new ProblemError(
    409,
    'idempotency-conflict',
    detail,
    fields.map((field) => ({ field, message: 'differs from the request first made with this key' })),
    extensions,
  );
}
