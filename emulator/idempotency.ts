/**
 * Idempotency (CONTRACT.md "Idempotency" plus the emulator decisions in README.md). Keys are scoped
 * per API key; the fingerprint is method + path + acting org + canonical JSON of the body. A stored
 * response replays verbatim for 24 h (emulator clock); a different fingerprint under the same key is
 * `409 IDEMPOTENCY_CONFLICT` `body_mismatch`; a key whose first request is still executing is `409`
 * `in_flight`. Statuses that are never stored (400, 401, 422, 429, 503, 5xx) release the key.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, validation } from './errors';
import { canonicalJson } from './ids';
import type { Store } from './store';
import type { Json } from './validate';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface IdemRecord {
  scopeKey: string;
  fingerprint: string;
  route: string;
  status: number;
  body: Json;
  createdAt: number;
}

export type IdempotencyMode = 'required' | 'optional' | 'none';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NON_STORED = new Set([400, 401, 422, 429, 503]);
const SWEEP_EVERY = 1000;

/** The `Idempotency-Key` header, lower-cased: 400 when required and absent, 422 when not a UUID. */
export function idempotencyKeyOf(headers: IncomingHttpHeaders, mode: IdempotencyMode): string | undefined {
  if (mode === 'none') return undefined;
  const h = headers['idempotency-key'];
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) {
    if (mode === 'required') {
      throw new ApiError(
        'IDEMPOTENCY_REQUIRED',
        'This money-movement route requires an Idempotency-Key header.',
      );
    }
    return undefined;
  }
  if (!UUID.test(v)) throw validation('Idempotency-Key', 'must be a UUID');
  return v.toLowerCase();
}

export function fingerprintOf(
  method: string,
  path: string,
  actingOrgId: string,
  body: Json | undefined,
): string {
  return `${method} ${path}\n${actingOrgId}\n${canonicalJson(body ?? {})}`;
}

/** A key this request holds in flight until `settle` or `release`. */
export interface Claim {
  readonly scopeKey: string;
  readonly fingerprint: string;
  readonly store: Store;
}

export class IdempotencyGuard {
  /** scopeKey → fingerprint of requests currently executing under an Idempotency-Key. */
  private readonly inFlight = new Map<string, string>();
  private storedSinceSweep = 0;

  /**
   * The stored record to replay, or a claim on the key (now in flight). Throws `409
   * IDEMPOTENCY_CONFLICT` on a fingerprint mismatch or while another request holds the key.
   */
  begin(
    store: Store,
    apiKeyId: string,
    idemKey: string,
    fingerprint: string,
  ): { replay: IdemRecord } | { claim: Claim } {
    const scopeKey = `${apiKeyId}:${idemKey}`;
    const rec = store.idempotency.get(scopeKey);
    if (rec && store.now() - rec.createdAt >= IDEMPOTENCY_TTL_MS) store.idempotency.delete(scopeKey);
    const live = store.idempotency.get(scopeKey);
    const inflight = this.inFlight.get(scopeKey);
    if (!live && inflight === undefined) {
      this.inFlight.set(scopeKey, fingerprint);
      return { claim: { scopeKey, fingerprint, store } };
    }
    if ((live ? live.fingerprint : inflight) !== fingerprint) {
      throw new ApiError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used with a different request.',
        {
          reason: 'body_mismatch',
        },
      );
    }
    if (!live) {
      throw new ApiError(
        'IDEMPOTENCY_CONFLICT',
        'A request with this Idempotency-Key is still being processed.',
        {
          reason: 'in_flight',
        },
      );
    }
    return { replay: live };
  }

  /**
   * The request executed: store its outcome under the key unless the status is never stored (or the
   * state was reset meanwhile: `current` is no longer the claim's store), and release the key.
   */
  settle(claim: Claim, current: Store, route: string, result: { status: number; body: Json }): void {
    this.release(claim);
    if (result.status >= 500 || NON_STORED.has(result.status) || current !== claim.store) return;
    if (++this.storedSinceSweep >= SWEEP_EVERY) {
      this.storedSinceSweep = 0;
      current.expireIdempotency(); // keep memory and the data file bounded by the 24 h window
    }
    current.idempotency.set(claim.scopeKey, {
      scopeKey: claim.scopeKey,
      fingerprint: claim.fingerprint,
      route,
      status: result.status,
      body: result.body,
      createdAt: current.now(),
    });
  }

  /** Give the key up without storing anything (the request failed before executing). */
  release(claim: Claim): void {
    this.inFlight.delete(claim.scopeKey);
  }

  /** Forget every in-flight claim (reset). */
  clear(): void {
    this.inFlight.clear();
  }
}
