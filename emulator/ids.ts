/**
 * Identifier, secret and timestamp helpers. Everything random comes from node:crypto; the hot path
 * (a request id per request) draws from a pooled buffer so it stays allocation-light.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

let pool = randomBytes(4096);
let poolOffset = 0;

function randomByte(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  return pool[poolOffset++];
}

function randomChars(alphabet: string, length: number): string {
  // Both alphabets have a size dividing 256 (32) or are rejection-sampled (62) to stay unbiased.
  const size = alphabet.length;
  const limit = 256 - (256 % size);
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    if (b < limit) out += alphabet[b % size];
  }
  return out;
}

/** A ULID (26 Crockford base32 chars: 10 of millisecond time, 16 of randomness). */
export function ulid(timeMs: number = Date.now()): string {
  let t = Math.max(0, Math.floor(timeMs));
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + randomChars(CROCKFORD, 16);
}

export const newOrgId = (): string => `org_${randomUUID()}`;
export const newKeyId = (): string => `key_${randomUUID()}`;
export const newTransferId = (): string => `txn_${randomUUID()}`;
export const newProjectId = (): string => `prj_${randomUUID()}`;
export const newEndpointId = (): string => `whe_${randomUUID()}`;
export const newRequestId = (): string => `req_${ulid()}`;
export const newWebhookEventId = (timeMs: number): string => `evt_${ulid(timeMs)}`;
export const newLedgerEventId = (timeMs: number): string => `cev_${ulid(timeMs)}`;
export const newDeliveryId = (timeMs: number): string => `whd_${ulid(timeMs)}`;
export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/** A fresh API key: the secret `lp_live_<keyid>_<secret>` and its display prefix `lp_live_<keyid>`. */
export function newApiKeySecret(): { secret: string; prefix: string } {
  const keyid = randomChars(CROCKFORD, 16);
  const secret = `lp_live_${keyid}_${randomChars(BASE62, 32)}`;
  return { secret, prefix: `lp_live_${keyid}` };
}

/** The display prefix of a caller-supplied secret: `lp_live_` plus 16 characters. */
export function prefixOfSecret(secret: string): string {
  const m = /^lp_(?:live|test)_([A-Za-z0-9]{16})/.exec(secret);
  if (m) return `lp_live_${m[1]}`;
  const h = createHash('sha256').update(secret).digest();
  let id = '';
  for (let i = 0; i < 16; i++) id += CROCKFORD[h[i] % 32];
  return `lp_live_${id}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function hmacHex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Timestamps in the docs' form: `2026-06-03T18:14:02.187000+00:00`. */
export function iso(ms: number): string {
  const s = new Date(ms).toISOString();
  return `${s.slice(0, 23)}000+00:00`;
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}

let periodCache = { start: 0, end: -1, period: '' };

/** UTC calendar month of a timestamp, `YYYY-MM` (the emulator's billing period). Cached per month: hot path. */
export function billingPeriod(ms: number): string {
  if (ms >= periodCache.start && ms < periodCache.end) return periodCache.period;
  const d = new Date(ms);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  periodCache = { start, end, period: d.toISOString().slice(0, 7) };
  return periodCache.period;
}

/** Deterministic key order, so two bodies that parse to the same JSON compare equal. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
