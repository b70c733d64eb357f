/**
 * Who may use the control API (issue "Security hardening", item 4). It can reset the state, mint
 * org:admin keys and read everything, so it answers only
 *
 * - loopback peers (127.0.0.0/8, ::1, or IPv4-mapped 127.x) — 403 otherwise, even when the emulator
 *   listens on a public interface;
 * - requests whose `Host` names a loopback host (localhost, 127.x.y.z, [::1], any port) — 403
 *   otherwise: a page that rebinds its own DNS name to 127.0.0.1 still sends its own name as Host;
 * - requests without an `Origin`, or with a loopback one — 403 otherwise: a page on another site
 *   cannot make the browser post to it (emulator decision, beyond the issue);
 * - and, when a control token is configured, requests carrying it as `Authorization: Bearer <token>`
 *   or `X-Emulator-Token: <token>` (compared in constant time) — 401 otherwise.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { isIPv4 } from 'node:net';
import { ApiError } from '../errors';

/** 127.0.0.0/8, ::1, and 127.x written as an IPv4-mapped IPv6 address (dual-stack sockets). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** A `Host` header value (host[:port]) naming localhost, 127.x.y.z or [::1]. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (name === 'localhost') return true;
  if (name.startsWith('[')) return isLoopbackAddress(name.slice(1, -1));
  return isIPv4(name) && name.startsWith('127.');
}

/** An `Origin` header value (scheme://host[:port]) whose host is loopback. */
function isLoopbackOrigin(origin: string): boolean {
  try {
    return isLoopbackHost(new URL(origin).host);
  } catch {
    return false;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time equality (over digests, so the lengths leak nothing either). */
function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function presentedTokens(req: http.IncomingMessage): string[] {
  const out: string[] = [];
  const auth = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (auth) out.push(auth[1]);
  const h = req.headers['x-emulator-token'];
  if (typeof h === 'string' && h !== '') out.push(h);
  return out;
}

/** Throws the refusal (403 / 401, error envelope) unless `req` may use the control API. */
export function checkControlAccess(req: http.IncomingMessage, controlToken: string | null): void {
  const refuse = (reason: string, message: string): ApiError =>
    new ApiError('FORBIDDEN_SCOPE', message, { reason });
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    throw refuse('control_api_loopback_only', 'The emulator control API answers loopback clients only.');
  }
  if (!isLoopbackHost(req.headers.host)) {
    throw refuse(
      'control_api_host',
      'The emulator control API answers only Host: localhost, 127.x.y.z or [::1].',
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin)) {
    throw refuse('control_api_origin', 'The emulator control API refuses requests from other origins.');
  }
  if (controlToken === null) return;
  const tokens = presentedTokens(req);
  if (!tokens.some((t) => tokenMatches(t, controlToken))) {
    throw new ApiError(
      'UNAUTHENTICATED',
      'The emulator control API needs its token: `Authorization: Bearer <token>` or `X-Emulator-Token: <token>`.',
      { reason: tokens.length === 0 ? 'missing' : 'invalid' },
    );
  }
}
