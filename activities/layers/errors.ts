/**
 * Error types raised by the Layers client, and their classification.
 *
 * `LayersApiError` covers HTTP errors (the API's `{error:{code,message,requestId,details}}`
 * envelope) as well as transport failures (network errors, timeouts, aborts). A 2xx response that
 * breaks the documented contract raises `LayersContractError` instead — always non-retryable.
 *
 * Neither ever carries request headers, the API key, or a response body: only the fields below,
 * with messages and details scrubbed by `redact.ts`.
 */

export type LayersErrorClass = 'retryable' | 'blocked' | 'insufficient_funds' | 'non_retryable';

/** Codes the client itself assigns when there is no API error envelope. */
export const LayersClientErrorCode = {
  network: 'NETWORK_ERROR',
  timeout: 'TIMEOUT',
  aborted: 'ABORTED',
  platform: 'PLATFORM_ERROR',
} as const;

const TRANSPORT_CODES = new Set<string>(['NETWORK_ERROR', 'TIMEOUT', 'ABORTED']);

/**
 * Map an API outcome to how the activity layer should treat it.
 *
 * - retryable: transport errors (no status), 5xx (except 503 KILL_SWITCH), 429, and
 *   409 IDEMPOTENCY_CONFLICT with `details.reason: "in_flight"` (the first request is still
 *   executing; retrying with the same key will replay its outcome).
 * - blocked: 503 KILL_SWITCH (wait for the switch to clear; do not burn retries).
 * - insufficient_funds: 402 BILLING_EXHAUSTED (wait for a top-up).
 * - non_retryable: everything else — 400, 401, 403, 404, 409 CONFLICT, 409 IDEMPOTENCY_CONFLICT
 *   body_mismatch, 422, other 4xx, contract violations.
 */
export function classifyLayersError(
  status: number | undefined,
  code: string,
  details?: Record<string, unknown>,
): LayersErrorClass {
  if (status === undefined) {
    // No HTTP response: transport failure (or a cancellation) — the request may or may not have
    // reached the server, which is exactly what idempotency keys make safe to retry.
    return TRANSPORT_CODES.has(code) || code === 'PLATFORM_ERROR' ? 'retryable' : 'non_retryable';
  }
  if (status === 503 && code === 'KILL_SWITCH') return 'blocked';
  if (status === 402 && code === 'BILLING_EXHAUSTED') return 'insufficient_funds';
  if (status === 429) return 'retryable';
  if (status === 409 && code === 'IDEMPOTENCY_CONFLICT' && details?.['reason'] === 'in_flight')
    return 'retryable';
  if (status >= 500) return 'retryable';
  return 'non_retryable';
}

/**
 * Parse a `Retry-After` header into milliseconds: delta-seconds (`"3"`, `"1.5"`) or an HTTP-date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`, clamped at 0 when in the past). Absent or unparsable →
 * undefined.
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : (value as string | null | undefined);
  if (raw === undefined || raw === null) return undefined;
  const v = raw.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const seconds = Number(v);
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
  }
  // Only accept things that look like an HTTP-date (contain a letter), not e.g. "-5".
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export interface LayersApiErrorInit {
  message: string;
  status?: number;
  code: string;
  requestId?: string;
  details?: Record<string, unknown>;
  retryAfterMs?: number;
  classification?: LayersErrorClass;
  method: string;
  route: string;
}

/** An HTTP error response, a network error, a timeout or an abort. */
export class LayersApiError extends Error {
  override readonly name = 'LayersApiError';
  readonly status?: number;
  /** API `error.code`, or 'NETWORK_ERROR' | 'TIMEOUT' | 'ABORTED' | 'PLATFORM_ERROR' | 'HTTP_<status>'. */
  readonly code: string;
  readonly requestId?: string;
  readonly details?: Record<string, unknown>;
  readonly retryAfterMs?: number;
  readonly classification: LayersErrorClass;
  readonly method: string;
  /** Route in pattern form, e.g. '/v1/organizations/:orgId/credits/allocate'. */
  readonly route: string;

  constructor(init: LayersApiErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.details = init.details;
    this.retryAfterMs = init.retryAfterMs;
    this.classification = init.classification ?? classifyLayersError(init.status, init.code, init.details);
    this.method = init.method;
    this.route = init.route;
  }

  get retryable(): boolean {
    return this.classification === 'retryable';
  }

  /** A safe, secret-free summary (also what `JSON.stringify` produces). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      requestId: this.requestId,
      details: this.details,
      retryAfterMs: this.retryAfterMs,
      classification: this.classification,
      method: this.method,
      route: this.route,
    };
  }
}

export interface LayersContractErrorInit {
  message: string;
  field: string;
  route: string;
  method: string;
  status?: number;
  requestId?: string;
}

/** A 2xx response that does not match the documented contract. Never retryable. */
export class LayersContractError extends Error {
  override readonly name = 'LayersContractError';
  readonly code = 'CONTRACT_VIOLATION';
  readonly classification: LayersErrorClass = 'non_retryable';
  /** Dotted path of the first offending field, e.g. 'apiKey.prefix' ('(body)' for a non-JSON body). */
  readonly field: string;
  readonly route: string;
  readonly method: string;
  readonly status?: number;
  readonly requestId?: string;

  constructor(init: LayersContractErrorInit) {
    super(init.message);
    this.field = init.field;
    this.route = init.route;
    this.method = init.method;
    this.status = init.status;
    this.requestId = init.requestId;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      code: this.code,
      field: this.field,
      route: this.route,
      method: this.method,
      status: this.status,
      requestId: this.requestId,
      classification: this.classification,
    };
  }
}

export function isLayersApiError(err: unknown): err is LayersApiError {
  return err instanceof LayersApiError;
}

export function isLayersContractError(err: unknown): err is LayersContractError {
  return err instanceof LayersContractError;
}
