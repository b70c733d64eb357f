/**
 * Seeded fault plan (POST /_emulator/faults). Each request whose method and route match a rule
 * draws exactly four numbers from the plan's PRNG, in a fixed order (rateLimited, beforeError,
 * afterCommitDrop, latency), whatever the outcome: the same seed and the same sequence of matching
 * requests therefore always produce the same faults. A rule may also answer with a documented
 * error (`respondWith`) and may match only the first attempt of each Idempotency-Key.
 */
import { STATUS_OF, validation, type ErrorCode } from './errors';
import type { Json } from './validate';
import { isObject } from './validate';

export interface FaultRule {
  method: string;
  path: string;
  beforeError: number;
  afterCommitDrop: number;
  rateLimited: number;
  latencyMs: [number, number];
  /** Only the first request carrying each Idempotency-Key matches (its retries, and keyless requests, do not). */
  firstAttemptOnly: boolean;
  /** Answer with this documented error instead of executing (e.g. a 422 the input checks could not foresee). */
  respondWith: { code: ErrorCode; message: string } | null;
}

export interface FaultDecision {
  rule: number;
  rateLimited: boolean;
  beforeError: boolean;
  afterCommitDrop: boolean;
  latencyMs: number;
  respondWith: { code: ErrorCode; message: string } | null;
}

/** mulberry32: tiny, fast, good enough for fault dice. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedNumber(seed: Json | undefined): number {
  if (typeof seed === 'number' && Number.isFinite(seed)) return Math.floor(seed) >>> 0;
  if (typeof seed === 'string') {
    let h = 2166136261;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
    return h >>> 0;
  }
  throw validation('seed', 'must be a number or a string');
}

function probability(v: Json | undefined, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    throw validation(field, 'must be a probability between 0 and 1');
  return v;
}

function flag(v: Json | undefined, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw validation(field, 'must be true or false');
  return v;
}

function respondWith(v: Json | undefined, field: string): FaultRule['respondWith'] {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw validation(field, 'must be {code, message}');
  if (typeof v.code !== 'string' || !(v.code in STATUS_OF)) {
    throw validation(
      `${field}.code`,
      `must be a documented error code: ${Object.keys(STATUS_OF).join(', ')}`,
    );
  }
  if (typeof v.message !== 'string' || v.message.length === 0)
    throw validation(`${field}.message`, 'must be a non-empty string');
  return { code: v.code as ErrorCode, message: v.message };
}

export class FaultPlan {
  readonly rules: FaultRule[];
  readonly seed: Json;
  private rand: () => number;
  decisions = 0;
  readonly history: Array<{ route: string; decision: FaultDecision }> = [];

  constructor(body: Json | undefined) {
    if (!isObject(body)) throw validation('body', 'must be a JSON object');
    this.seed = body.seed ?? 0;
    this.rand = mulberry32(seedNumber(body.seed ?? 0));
    if (!Array.isArray(body.rules)) throw validation('rules', 'must be an array');
    this.rules = body.rules.map((r, i) => {
      const f = `rules[${i}]`;
      if (!isObject(r)) throw validation(f, 'must be an object');
      const method = r.method === undefined ? '*' : r.method;
      const path = r.path === undefined ? '*' : r.path;
      if (typeof method !== 'string') throw validation(`${f}.method`, 'must be a string');
      if (typeof path !== 'string' || (path !== '*' && !path.startsWith('/'))) {
        throw validation(`${f}.path`, 'must be "*" or a path pattern such as /v1/organizations/:orgId');
      }
      let latency: [number, number] = [0, 0];
      if (r.latencyMs !== undefined && r.latencyMs !== null) {
        const l = r.latencyMs;
        if (
          !Array.isArray(l) ||
          l.length !== 2 ||
          !l.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 60_000) ||
          (l[0] as number) > (l[1] as number)
        ) {
          throw validation(`${f}.latencyMs`, 'must be [min, max] integers with 0 ≤ min ≤ max ≤ 60000');
        }
        latency = [l[0] as number, l[1] as number];
      }
      return {
        method: method.toUpperCase(),
        path,
        beforeError: probability(r.beforeError, `${f}.beforeError`),
        afterCommitDrop: probability(r.afterCommitDrop, `${f}.afterCommitDrop`),
        rateLimited: probability(r.rateLimited, `${f}.rateLimited`),
        latencyMs: latency,
        firstAttemptOnly: flag(r.firstAttemptOnly, `${f}.firstAttemptOnly`),
        respondWith: respondWith(r.respondWith, `${f}.respondWith`),
      };
    });
  }

  private readonly seenKeys = new Set<string>();

  private static pathMatches(rulePath: string, pattern: string, actual: string): boolean {
    if (rulePath === '*' || rulePath === pattern || rulePath === actual) return true;
    if (rulePath.endsWith('*')) {
      const prefix = rulePath.slice(0, -1);
      return pattern.startsWith(prefix) || actual.startsWith(prefix);
    }
    return false;
  }

  /** The first rule matching this request decides; null when none matches. */
  decide(method: string, pattern: string, actualPath: string, idempotencyKey?: string): FaultDecision | null {
    const firstAttempt =
      idempotencyKey !== undefined && !this.seenKeys.has(`${method} ${actualPath} ${idempotencyKey}`);
    if (idempotencyKey !== undefined) this.seenKeys.add(`${method} ${actualPath} ${idempotencyKey}`);
    const idx = this.rules.findIndex(
      (r) =>
        (r.method === '*' || r.method === method) &&
        FaultPlan.pathMatches(r.path, pattern, actualPath) &&
        (!r.firstAttemptOnly || firstAttempt),
    );
    if (idx < 0) return null;
    const r = this.rules[idx];
    const d1 = this.rand();
    const d2 = this.rand();
    const d3 = this.rand();
    const d4 = this.rand();
    const [min, max] = r.latencyMs;
    const decision: FaultDecision = {
      rule: idx,
      rateLimited: d1 < r.rateLimited,
      beforeError: d2 < r.beforeError,
      afterCommitDrop: d3 < r.afterCommitDrop,
      latencyMs: min + Math.floor(d4 * (max - min + 1)),
      respondWith: r.respondWith,
    };
    this.decisions++;
    this.history.push({ route: `${method} ${pattern}`, decision });
    if (this.history.length > 1000) this.history.shift();
    return decision;
  }

  toJson(): Json {
    return {
      seed: this.seed,
      rules: this.rules.map((r) => ({ ...r, latencyMs: [...r.latencyMs] })),
      decisions: this.decisions,
      history: this.history.map((h) => ({ route: h.route, ...h.decision })),
    };
  }
}
