// Rules for a customer-supplied webhook URL (`start --webhook-url`, request.firehose.url). Pure code: no
// Node built-ins, so the client and the workflows refuse early; the activity applies the same rules and
// then resolves the name (activities/firehose.ts) before Layers is asked to deliver anything there.
//
// - https only; plain http only in local mode (LAYERS_API_URL is a loopback http origin: the emulator);
// - no credentials in the URL;
// - no loopback, link-local (169.254/16: cloud metadata, fe80::/10), private
//   (10/8, 172.16/12, 192.168/16, 100.64/10), unique-local (fc00::/7), unspecified, multicast or
//   reserved address — written as an address, as a name that means one (localhost, *.localhost, *.local,
//   *.internal, *.home.arpa, single-label names), or (in the activity) as a name that resolves to one.

export interface WebhookUrlPolicy {
  /**
   * Local mode (LAYERS_API_URL is the emulator's loopback http origin): plain http is allowed, and a name
   * that does not resolve is let through (the emulator's delivery to it fails harmlessly; tests and the
   * demo run without DNS). Loopback and private receivers stay refused. Default false.
   */
  localMode?: boolean;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.localdomain'];

function parseIpv4(host: string): number[] | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** Eight 16-bit groups, or undefined when `host` is not an IPv6 address (brackets allowed). */
function parseIpv6(raw: string): number[] | undefined {
  let host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  host = host.replace(/%.*$/, ''); // zone id
  if (!host.includes(':')) return undefined;
  let tail: number[] = [];
  const lastColon = host.lastIndexOf(':');
  const maybeV4 = parseIpv4(host.slice(lastColon + 1));
  if (maybeV4) {
    tail = [(maybeV4[0]! << 8) | maybeV4[1]!, (maybeV4[2]! << 8) | maybeV4[3]!];
    host = `${host.slice(0, lastColon)}:0:0`; // two placeholder groups, replaced below
  }
  const halves = host.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest].map((g) =>
    parseInt(g, 16),
  );
  if (tail.length) all.splice(6, 2, ...tail);
  return all;
}

function ipv4Class(b: number[]): 'loopback' | 'forbidden' | undefined {
  const [a, c] = [b[0]!, b[1]!];
  if (a === 127) return 'loopback';
  if (a === 0 || a === 10 || a >= 224) return 'forbidden'; // unspecified, private, multicast, reserved, broadcast
  if (a === 169 && c === 254) return 'forbidden'; // link-local (cloud metadata 169.254.169.254)
  if (a === 172 && c >= 16 && c <= 31) return 'forbidden';
  if (a === 192 && c === 168) return 'forbidden';
  if (a === 100 && c >= 64 && c <= 127) return 'forbidden'; // carrier-grade NAT
  if (a === 192 && c === 0 && b[2] === 0) return 'forbidden'; // IETF protocol assignments
  if (a === 198 && (c === 18 || c === 19)) return 'forbidden'; // benchmarking
  return undefined;
}

function ipv6Class(g: number[]): 'loopback' | 'forbidden' | undefined {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  if (zeroUpTo(8)) return 'forbidden'; // ::
  const embedded = [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255];
  if (zeroUpTo(5) && g[5] === 0xffff) return ipv4Class(embedded) ?? undefined; // ::ffff:a.b.c.d
  if (zeroUpTo(6)) return ipv4Class(embedded) ?? 'forbidden'; // ::a.b.c.d (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return ipv4Class(embedded); // NAT64
  if ((g[0]! & 0xfe00) === 0xfc00) return 'forbidden'; // unique-local fc00::/7
  if ((g[0]! & 0xffc0) === 0xfe80 || (g[0]! & 0xffc0) === 0xfec0) return 'forbidden'; // link-local, site-local
  if ((g[0]! & 0xff00) === 0xff00) return 'forbidden'; // multicast
  return undefined;
}

/**
 * Why an address may not receive webhooks, or undefined when it may. For the activity's DNS answers and
 * for literal hosts. Accepts IPv4 dotted quads and IPv6 (with or without brackets).
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const v4 = parseIpv4(address);
  const v6 = v4 ? undefined : parseIpv6(address);
  if (!v4 && !v6) return undefined;
  const cls = v4 ? ipv4Class(v4) : ipv6Class(v6!);
  if (cls === 'loopback') return 'is a loopback address';
  if (cls === 'forbidden') return 'is a private, link-local, unique-local or reserved address';
  return undefined;
}

function forbiddenNameReason(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'names the local machine (localhost)';
  if (LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'names a host on a local network';
  if (!name.includes('.')) return 'must be a fully qualified public host name';
  return undefined;
}

/**
 * Checks a customer webhook URL. Returns an error naming `field` (e.g. `firehose.url`), or undefined
 * when the URL may be registered. Never resolves names: the activity does that.
 */
export function checkWebhookUrl(
  value: unknown,
  field: string,
  policy: WebhookUrlPolicy = {},
): string | undefined {
  if (typeof value !== 'string') return `${field}: must be a string`;
  if (value.length > MAX_WEBHOOK_URL_LENGTH)
    return `${field}: must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field}: must be an absolute https URL`;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.localMode)) {
    return `${field}: must use https${policy.localMode ? ' (or http)' : ''} (got ${url.protocol.replace(/:$/, '')})`;
  }
  if (url.username || url.password) return `${field}: must not carry credentials (user:password@)`;
  // WHATWG URL has already normalised 0x7f.1, 2130706433 and friends to dotted quads.
  const reason =
    forbiddenAddressReason(url.hostname) ??
    (parseIpv4(url.hostname) || parseIpv6(url.hostname) ? undefined : forbiddenNameReason(url.hostname));
  if (reason) return `${field}: ${url.hostname} ${reason}; webhooks go to a public https receiver`;
  return undefined;
}

/** True when the Layers API origin is a loopback http URL (the emulator): enables local mode. */
export function isLocalApiOrigin(apiUrl: string): boolean {
  try {
    const url = new URL(apiUrl);
    return (
      url.protocol === 'http:' &&
      (url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]')
    );
  } catch {
    return false;
  }
}
