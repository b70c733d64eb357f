/**
 * Signed webhook deliveries with retries (CONTRACT.md "Webhooks"). Each delivery POSTs the event's
 * raw JSON body with `X-Layers-Event-Id` (stable across retries) and
 * `X-Layers-Signature: t=<unix>,v1=<hex HMAC-SHA256(signingSecret, `${t}.${rawBody}`)>`.
 * 5xx, 429 and network errors are retried with exponential backoff (baseDelayMs · 2^(attempt-1))
 * up to maxAttempts; any other non-2xx fails the delivery at once.
 *
 * Retry timers run on real time (not the emulator clock), and the signature timestamp `t` is the
 * real wall clock: receivers check it against their own clock (±5 minutes). Every attempt is logged
 * on the delivery (`attemptLog`). While a rotated secret is in its grace, both secrets sign.
 */
import http from 'node:http';
import https from 'node:https';
import { hmacHex } from './ids';
import type { Store } from './store';
import { signingSecrets, type WebhookDelivery } from './store/webhooks';

/** `t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 entry per secret (two while a rotated secret is in its grace). */
export function signatureHeader(
  secrets: string[],
  payload: string,
  unixSeconds = Math.floor(Date.now() / 1000),
): string {
  const entries = secrets.map((secret) => `v1=${hmacHex(secret, `${unixSeconds}.${payload}`)}`);
  return [`t=${unixSeconds}`, ...entries].join(',');
}

export interface WebhookOptions {
  baseDelayMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

export class WebhookDispatcher {
  private timers = new Map<string, NodeJS.Timeout>();
  private inflight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly getStore: () => Store,
    private readonly opts: WebhookOptions,
  ) {}

  private get store(): Store {
    return this.getStore();
  }

  /** Schedule the first attempt of new deliveries (and resume pending ones after a restart). */
  schedule(ids: Iterable<string>, delayMs = 0): void {
    for (const id of ids) this.arm(id, delayMs);
  }

  resumePending(): void {
    for (const d of this.store.deliveries.values()) if (d.status === 'pending') this.arm(d.id, 0);
  }

  /** Drop every pending timer (e.g. on reset); deliveries already on the wire are aborted. */
  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const r of this.inflight) r.destroy();
    this.inflight.clear();
  }

  close(): void {
    this.closed = true;
    this.cancelAll();
  }

  private arm(id: string, delayMs: number): void {
    if (this.closed) return;
    const prev = this.timers.get(id);
    if (prev) clearTimeout(prev);
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.attempt(id);
    }, delayMs);
    this.timers.set(id, t);
  }

  private attempt(id: string): void {
    const d = this.store.deliveries.get(id);
    if (!d || d.status !== 'pending' || this.closed) return;
    const ep = this.store.endpoints.get(d.endpointId);
    if (!ep || ep.status !== 'enabled') {
      this.finish(d, 'failed', null, `endpoint ${ep?.status ?? 'deleted'}`);
      return;
    }
    d.attempts++;
    const signature = signatureHeader(signingSecrets(ep, this.store.now()), d.payload);
    let url: URL;
    try {
      url = new URL(ep.url);
    } catch {
      this.finish(d, 'failed', null, 'invalid url');
      return;
    }
    const body = Buffer.from(d.payload);
    const mod = url.protocol === 'https:' ? https : http;
    let settled = false;
    const done = (status: number | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      this.inflight.delete(req);
      this.outcome(d, status, error);
    };
    const req = mod.request(
      url,
      {
        method: 'POST',
        agent: false,
        timeout: this.opts.timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': 'Layers-Webhooks/1.0 (emulator)',
          'x-layers-event-id': d.eventId,
          'x-layers-event-type': d.type,
          'x-layers-delivery-attempt': String(d.attempts),
          'x-layers-signature': signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0, null));
        res.on('error', (e) => done(null, e.message));
      },
    );
    this.inflight.add(req);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(null, e.message));
    req.end(body);
  }

  private outcome(d: WebhookDelivery, status: number | null, error: string | null): void {
    if (this.closed || d.status !== 'pending') return;
    d.lastStatus = status;
    d.lastError = error;
    const delivered = status !== null && status >= 200 && status < 300;
    const retryable = status === null || status >= 500 || status === 429;
    const outcome = delivered
      ? 'delivered'
      : retryable && d.attempts < this.opts.maxAttempts
        ? 'retry'
        : 'failed';
    d.attemptLog.push({
      attempt: d.attempts,
      attemptedAt: this.store.now(),
      httpStatus: status,
      error,
      outcome,
    });
    if (outcome !== 'retry') {
      this.finish(d, outcome, status, delivered ? null : error);
      return;
    }
    const delay = this.opts.baseDelayMs * 2 ** (d.attempts - 1);
    d.nextAttemptAt = this.store.now() + delay;
    this.store.onChange();
    this.arm(d.id, delay);
  }

  private finish(
    d: WebhookDelivery,
    status: 'delivered' | 'failed',
    lastStatus: number | null,
    error: string | null,
  ): void {
    d.status = status;
    d.lastStatus = lastStatus;
    d.lastError = error;
    d.nextAttemptAt = null;
    if (status === 'delivered') d.deliveredAt = this.store.now();
    this.store.onChange();
  }
}
