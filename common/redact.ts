/**
 * Secret scrubbing for everything the Layers client emits (log lines, error messages, failure
 * details). Key material never leaves the client: API key secrets (`lp_live_…` / `lp_test_…`),
 * webhook signing secrets (`whsec_…`) and `Bearer …` credentials are replaced with `[REDACTED]`.
 */

export const REDACTED = '[REDACTED]';

const SECRET_PATTERNS: readonly RegExp[] = [
  // Authorization header values, whatever the token looks like.
  /\bBearer\s+[^\s"',;]+/gi,
  // API key secrets: lp_<env>_<keyid>_<secret>. Key *prefixes* (lp_live_ + 16 chars) are not
  // secret, but they look alike and scrubbing them too is the safe side.
  /lp_(?:live|test)_[A-Za-z0-9_\-.~+/=]+/g,
  // Webhook signing secrets.
  /whsec_[A-Za-z0-9_\-+/=]+/g,
];

/** Replace anything that looks like key material with `[REDACTED]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, REDACTED);
  return out;
}

/**
 * Also scrub exact known secrets (e.g. the client's own API key, whatever its format), then apply
 * the pattern-based scrubbing. Empty / very short values are ignored so that they can't blank out
 * ordinary text.
 */
export function redactKnown(text: string, known: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of known) {
    if (secret && secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  return redactSecrets(out);
}

/**
 * Deep-copy a JSON-like value with every string scrubbed and secret-bearing keys
 * (`secret`, `signingSecret`, `authorization`, `apiKey` when it is a string, …) replaced.
 * Used on API-supplied `details` before they go into an error or a failure.
 */
export function redactValue(value: unknown, known: readonly (string | undefined)[] = [], depth = 0): unknown {
  if (depth > 8) return REDACTED;
  if (typeof value === 'string') return redactKnown(value, known);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, known, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] =
        SECRET_KEYS.test(k) && v !== null && v !== undefined ? REDACTED : redactValue(v, known, depth + 1);
    }
    return out;
  }
  return value;
}

const SECRET_KEYS = /^(secret|signingSecret|authorization|password|token|apiKeySecret|x-api-key)$/i;
