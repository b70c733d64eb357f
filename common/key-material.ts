// The parent key belongs in the worker's environment only. Anything in a workflow input is written to
// history, so the client refuses input that carries something shaped like Layers key material.
const KEY_MATERIAL = /\blp_(?:live|test)_[A-Za-z0-9_-]{8,}|\bwhsec_[A-Za-z0-9_-]{16,}/;

/** Field paths (dotted) of string values that look like a Layers secret. */
export function findKeyMaterial(value: unknown, path: string[] = []): string[] {
  if (typeof value === 'string') return KEY_MATERIAL.test(value) ? [path.join('.') || '(input)'] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => findKeyMaterial(item, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => [
      ...(KEY_MATERIAL.test(key) ? [[...path, '(key)'].join('.')] : []),
      ...findKeyMaterial(item, [...path, key]),
    ]);
  }
  return [];
}
