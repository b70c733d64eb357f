// Idempotency keys are derived, not random: the same (workflow id, step, generation) always gives the
// same UUID, across activity retries, worker crashes, replays and continue-as-new. The `uuid` package's
// browser build (the one the workflow bundle resolves) hashes in plain JavaScript, so it runs in the
// workflow sandbox; test/foundation/idempotency-keys.test.ts holds the keys of the earlier hand-written
// SHA-1, which must never change for a customer whose onboarding is in flight.
import { v5 } from 'uuid';

const NAMESPACE = '6f1c2a5e-3b7d-4c2a-9e51-0d8b4f7a9c31';

/**
 * UTF-8, except that a lone surrogate is encoded as its own three bytes (as the keys were always made).
 * `uuid`'s own string path throws on a lone surrogate and TextEncoder replaces it with U+FFFD: either
 * would fail a workflow task or change a key for a firehose url that holds one.
 */
function utf8(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(bytes);
}

export function uuidV5(name: string, namespace: string = NAMESPACE): string {
  return v5(utf8(name), namespace);
}

/** The key for one write of one workflow; a new generation only after a response that moved nothing. */
export function idempotencyKey(workflowId: string, step: string, generation = 0): string {
  return uuidV5(`${workflowId}|${step}|${generation}`);
}

/** One firehose endpoint per parent: every onboarding that wants the same endpoint sends the same key. */
export function firehoseIdempotencyKey(url: string, scope: string, events: string[]): string {
  return uuidV5(`firehose|${url}|${scope}|${[...events].sort().join(',')}`);
}
