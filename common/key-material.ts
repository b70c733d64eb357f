// The parent key belongs in the worker's environment only. Anything in a workflow input, signal or update
// is written to history and shown in the Web UI, so every free-text field is checked here — by the client
// for a friendly early error and by the workflows, which are the trust boundary (any Temporal client can
// start them). Pure code: no Node built-ins (workflows import it).

/**
 * The documented Layers secret shapes (API keys `lp_live_…`/`lp_test_…`, webhook signing secrets
 * `whsec_…`), matched ANYWHERE in the text: no `\b`, which `x_lp_live_…` or `keylp_live_…` slip past
 * (`_` and letters are word characters). Case-insensitive, so `LP_LIVE_…` is caught too.
 */
const KEY_MATERIAL = /lp_(?:live|test)_[A-Za-z0-9_-]{8,}|whsec_[A-Za-z0-9_-]{16,}/i;

/** Invisible characters someone could put inside a key to break the match while it still pastes as a key. */
const INVISIBLE = /[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g;

export const DEFAULT_FREE_TEXT_MAX_LENGTH = 1_000;

/** True when the text contains something shaped like a Layers secret. */
export function containsKeyMaterial(text: string): boolean {
  return KEY_MATERIAL.test(text) || KEY_MATERIAL.test(text.replace(INVISIBLE, ''));
}

/** Field paths (dotted) of string values (and object keys) that look like a Layers secret. */
export function findKeyMaterial(value: unknown, path: string[] = []): string[] {
  if (typeof value === 'string') return containsKeyMaterial(value) ? [path.join('.') || '(input)'] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => findKeyMaterial(item, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => [
      ...(containsKeyMaterial(key) ? [[...path, '(key)'].join('.')] : []),
      ...findKeyMaterial(item, [...path, key]),
    ]);
  }
  return [];
}

export interface FreeTextOptions {
  /** Default DEFAULT_FREE_TEXT_MAX_LENGTH characters. */
  maxLength?: number;
  /** When false (default), undefined passes (an optional field); when true it is an error. */
  required?: boolean;
}

/**
 * Checks one free-text field that reaches history or the Web UI (a reason, a note, a name, a metadata
 * value). Returns an error naming the field, or undefined when the value is acceptable. Never echoes
 * the value: it may be the secret.
 */
export function checkFreeText(
  value: unknown,
  field: string,
  options: FreeTextOptions = {},
): string | undefined {
  const maxLength = options.maxLength ?? DEFAULT_FREE_TEXT_MAX_LENGTH;
  if (value === undefined || value === null) return options.required ? `${field}: required` : undefined;
  if (typeof value !== 'string') return `${field}: must be a string`;
  if (value.length > maxLength)
    return `${field}: must be at most ${maxLength} characters (got ${value.length})`;
  if (containsKeyMaterial(value))
    return `${field}: looks like a Layers secret (lp_live_…, lp_test_…, whsec_…); secrets never go into workflow input, history or the Web UI`;
  return undefined;
}

/**
 * Every string (and object key) anywhere inside `value`, each checked by checkFreeText and named by its
 * path under `root` (e.g. `request.customer.metadata.note`). For whole inputs, signals and updates.
 */
export function checkFreeTextDeep(value: unknown, root: string, options: FreeTextOptions = {}): string[] {
  if (typeof value === 'string') {
    const error = checkFreeText(value, root, options);
    return error ? [error] : [];
  }
  if (Array.isArray(value))
    return value.flatMap((item, i) => checkFreeTextDeep(item, `${root}.${i}`, options));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => {
      const keyError = containsKeyMaterial(key)
        ? [`${root}.(key): looks like a Layers secret; secrets never go into workflow input`]
        : [];
      return [...keyError, ...checkFreeTextDeep(item, `${root}.${key}`, options)];
    });
  }
  return [];
}
