import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

// HMAC signatures in the `t=<unix>,v1=<hex>` form both Layers and this project use. Node-only: the gateway
// and the worker's CRM events activity import it, workflows never do. The `X-Signature` between the CRM and
// this project (both directions: the CRM's requests, the forwarded firehose and the lifecycle events) signs
// "t.METHOD.path.body"; Layers' firehose signs "t.body".

export const SIGNATURE_TOLERANCE_S = 5 * 60;

export function hmacHex(secret: string, message: string | Buffer): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

/** What the gateway signs: the request target as sent (path and query string) and the raw body bytes. */
export function gatewaySignedPayload(t: string, method: string, path: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${t}.${method.toUpperCase()}.${path}.`), body]);
}

export function signGatewayRequest(
  secret: string,
  method: string,
  path: string,
  body: Buffer | string,
  nowMs = Date.now(),
): string {
  const t = String(Math.floor(nowMs / 1000));
  return `t=${t},v1=${hmacHex(secret, gatewaySignedPayload(t, method, path, Buffer.from(body)))}`;
}

export interface ParsedSignature {
  t: string;
  v1: string[];
}

/** `t=…,v1=…[,v1=…]`; unknown schemes are ignored, as Layers' docs ask of receivers. */
export function parseSignatureHeader(header: string | undefined): ParsedSignature | undefined {
  if (!header || header.length > 2048) return undefined;
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = value;
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) v1.push(value.toLowerCase());
  }
  return t && v1.length ? { t, v1 } : undefined;
}

export type SignatureCheck =
  { ok: true; secretIndex: number } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/**
 * Any `v1` made with any of the secrets over `payload(t)` is accepted, if `t` is within the tolerance.
 * Every candidate is compared in constant time, and all of them are compared, so timing tells nothing.
 */
export function verifySignature(
  header: string | undefined,
  secrets: readonly string[],
  payload: (t: string) => Buffer,
  nowMs = Date.now(),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const parsed = parseSignatureHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowMs / 1000 - Number(parsed.t)) > SIGNATURE_TOLERANCE_S)
    return { ok: false, reason: 'stale' };
  const message = payload(parsed.t);
  let match = -1;
  secrets.forEach((secret, index) => {
    const expected = Buffer.from(hmacHex(secret, message), 'hex');
    for (const candidate of parsed.v1) {
      if (timingSafeEqual(expected, Buffer.from(candidate, 'hex')) && match < 0) match = index;
    }
  });
  return match >= 0 ? { ok: true, secretIndex: match } : { ok: false, reason: 'mismatch' };
}

/** Constant-time equality of two strings of any length (compares their digests). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A short, stable, non-reversible name for a secret (rate-limit buckets, logs). */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}
