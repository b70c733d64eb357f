/**
 * Per-key rate limiting with three buckets (CONTRACT.md "Rate limits"). Emulator decision: a token
 * bucket per (key, class) whose capacity is the tier's per-minute limit and which refills
 * continuously at limit/60 tokens per second, on the emulator clock (so advancing the clock refills).
 */
export interface TierLimits {
  read: number;
  write: number;
  longRunning: number;
}

/** Requests per minute (reads / writes / long-running) of the documented tiers; `unlimited` has none. */
export const BUILTIN_TIERS: Record<string, TierLimits | null> = {
  standard: { read: 120, write: 60, longRunning: 20 },
  pilot: { read: 1200, write: 600, longRunning: 60 },
  partner: { read: 6000, write: 3000, longRunning: 300 },
  unlimited: null,
};

export type EndpointClass = 'read-light' | 'write-light' | 'long-running';

interface Bucket {
  tokens: number;
  updatedAt: number;
  limit: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number | null;
  remaining: number | null;
  retryAfterSeconds: number;
}

const UNLIMITED: RateDecision = { allowed: true, limit: null, remaining: null, retryAfterSeconds: 0 };

export class RateLimiter {
  private buckets = new Map<string, Bucket>();

  take(keyId: string, cls: EndpointClass, limits: TierLimits | null, now: number): RateDecision {
    if (limits === null) return UNLIMITED;
    const limit =
      cls === 'read-light' ? limits.read : cls === 'write-light' ? limits.write : limits.longRunning;
    const id = `${keyId}|${cls}`;
    let b = this.buckets.get(id);
    if (!b || b.limit !== limit) {
      b = { tokens: limit, updatedAt: now, limit };
      this.buckets.set(id, b);
    } else if (now > b.updatedAt) {
      b.tokens = Math.min(limit, b.tokens + ((now - b.updatedAt) * limit) / 60_000);
      b.updatedAt = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true, limit, remaining: Math.floor(b.tokens), retryAfterSeconds: 0 };
    }
    const msToToken = limit > 0 ? ((1 - b.tokens) * 60_000) / limit : 60_000;
    return {
      allowed: false,
      limit,
      remaining: 0,
      retryAfterSeconds: Math.max(1, Math.ceil(msToToken / 1000)),
    };
  }

  /** Forget the buckets of some keys (all when omitted), e.g. after a tier change. */
  reset(keyIds?: Iterable<string>): void {
    if (!keyIds) {
      this.buckets.clear();
      return;
    }
    const ids = new Set(keyIds);
    for (const k of [...this.buckets.keys()]) {
      if (ids.has(k.slice(0, k.indexOf('|')))) this.buckets.delete(k);
    }
  }
}
