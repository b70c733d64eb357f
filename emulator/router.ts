/**
 * Path matching for the API and the control API: patterns are written the way the docs write them
 * (`/v1/organizations/:orgId/credits/allocate`); `:name` segments match one non-empty segment and
 * are URI-decoded into `params` (left raw when undecodable, so the id checks reject them with 422).
 */
export interface Routable {
  method: string;
  pattern: string;
}

export interface Match<T> {
  def: T;
  params: Record<string, string>;
}

export class Router<T extends Routable> {
  private readonly compiled: Array<{ def: T; parts: string[] }>;

  constructor(defs: readonly T[]) {
    this.compiled = defs.map((def) => ({ def, parts: def.pattern.split('/') }));
  }

  match(method: string, path: string): Match<T> | null {
    const parts = path.split('/');
    for (const r of this.compiled) {
      if (r.def.method !== method || r.parts.length !== parts.length) continue;
      const params = matchParts(r.parts, parts);
      if (params) return { def: r.def, params };
    }
    return null;
  }
}

function matchParts(pattern: string[], parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = pattern[i];
    if (p.charCodeAt(0) !== 58 /* : */) {
      if (p !== parts[i]) return null;
      continue;
    }
    if (parts[i] === '') return null;
    params[p.slice(1)] = decodeSegment(parts[i]);
  }
  return params;
}

function decodeSegment(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
