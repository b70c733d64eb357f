import { createHash } from 'node:crypto';

// How two onboarding bodies are compared, by the library's `start` and the gateway alike: canonically
// (key order and whitespace do not matter), by a hash kept in the customer workflow's memo. Node-only:
// the client and the gateway use it, workflows never do.

/** Memo keys `start` writes on the customer workflow: the body's hash and the caller's event id. */
export const MEMO_REQUEST_HASH = 'onboardingRequestHash';
export const MEMO_IDEMPOTENCY_KEY = 'onboardingIdempotencyKey';

/** JSON with object keys sorted at every level; `undefined` members dropped (as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function requestHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** Dotted paths where two JSON values differ ("credits", "customer.name", "firehose.events.1"). */
export function differingFields(a: unknown, b: unknown, prefix = ''): string[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  const bothObjects =
    a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) return [prefix || '(body)'];
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  return [...keys]
    .sort()
    .flatMap((k) =>
      differingFields(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        prefix ? `${prefix}.${k}` : k,
      ),
    );
}
