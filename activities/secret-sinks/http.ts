import { createHmac } from 'node:crypto';
import type { SecretSink, ShownOnceSecret } from '../secret-sink';

export const SIGNATURE_HEADER = 'X-Layers-Orchestrator-Signature';

export interface HttpSecretSinkOptions {
  /** The partner's endpoint; https (plain http only for localhost, checked by the worker config). */
  url: string;
  /** HMAC-SHA256 key the receiver verifies signatures with. */
  signingKey: string;
  /** Attempts in this process before the store fails (the activity retry then replays the mint). Default 4. */
  attempts?: number;
  /** Backoff between attempts: initial, doubling, capped. Default 250 ms → 2 s. */
  backoffMs?: { initial: number; max: number };
  /** Per-attempt timeout, default 10 s. */
  timeoutMs?: number;
  /** For tests. */
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>` — the scheme Layers uses for webhooks. */
export function signSecretSinkBody(signingKey: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', signingKey).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

class RetryableSinkError extends Error {}

/**
 * POSTs each shown-once secret, as JSON `{kind, id, organizationId, externalId, prefix, secret}`, to the
 * partner's endpoint, signed with `X-Layers-Orchestrator-Signature` and keyed with
 * `Idempotency-Key: <kind>:<id>` (a replayed mint delivers the same secret under the same key, so the
 * receiver stores it once). Network errors, timeouts, 408, 429 and 5xx are retried a few times here;
 * then, and on any other status, `store` throws: the activity fails and its retry replays the mint with
 * the same Layers Idempotency-Key, so the secret is delivered later, never lost and never minted twice.
 * A 2xx means stored. Neither the body nor the secret ever appears in an error or a log line.
 */
export class HttpSecretSink implements SecretSink {
  private readonly target: URL;
  private readonly attempts: number;
  private readonly backoff: { initial: number; max: number };
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: HttpSecretSinkOptions) {
    this.target = new URL(options.url);
    if (!options.signingKey) throw new Error('HttpSecretSink: a signing key is required');
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.backoff = options.backoffMs ?? { initial: 250, max: 2_000 };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Where errors say they were sending: origin and path, never a query string (it might hold a token). */
  private get where(): string {
    return `${this.target.origin}${this.target.pathname}`;
  }

  async store(secret: ShownOnceSecret): Promise<string> {
    const body = JSON.stringify({
      kind: secret.kind,
      id: secret.id,
      organizationId: secret.organizationId ?? null,
      externalId: secret.externalId ?? null,
      prefix: secret.prefix ?? null,
      secret: secret.secret,
    });
    const idempotencyKey = `${secret.kind}:${secret.id}`;
    let delay = this.backoff.initial;
    let last = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        await this.post(body, idempotencyKey);
        return `http:${secret.kind}/${secret.id}`;
      } catch (err) {
        if (!(err instanceof RetryableSinkError)) throw err;
        last = err.message;
      }
      if (attempt < this.attempts) {
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.backoff.max);
      }
    }
    throw new Error(
      `secret sink: ${this.where} did not store ${idempotencyKey} after ${this.attempts} attempts (last: ${last})`,
    );
  }

  private async post(body: string, idempotencyKey: string): Promise<void> {
    const signature = signSecretSinkBody(this.options.signingKey, body, Math.floor(this.now() / 1000));
    let res: Response;
    try {
      res = await this.fetchFn(this.target, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          [SIGNATURE_HEADER]: signature,
          'Idempotency-Key': idempotencyKey,
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new RetryableSinkError(`network error (${code})`);
    }
    // Drain without reading the body into anything we might log.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    if (res.status === 408 || res.status === 429 || res.status >= 500)
      throw new RetryableSinkError(`HTTP ${res.status}`);
    throw new Error(`secret sink: ${this.where} refused ${idempotencyKey} with HTTP ${res.status}`);
  }
}
