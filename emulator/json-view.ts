/**
 * JSON views of stored records. Records keep timestamps as epoch milliseconds in fields named `…At`
 * or `…Until`; a view shows them in the docs' form (`2026-06-03T18:14:02.187000+00:00`, or null) and
 * copies arrays and objects, so a response never aliases live state.
 */
import { isoOrNull } from './ids';
import type { Json } from './validate';

const TIME_FIELD = /(?:At|Until)$/;

type Words<S extends string> = S extends `${infer Head} ${infer Rest}` ? Head | Words<Rest> : S;
/** `unknown` when every word of F names a field of T; otherwise an error type naming the stray words. */
type FieldsOf<T, F extends string> = [Exclude<Words<F>, keyof T & string>] extends [never]
  ? unknown
  : { unknownField: Exclude<Words<F>, keyof T & string> };

function copy(v: unknown): Json {
  if (Array.isArray(v)) return [...(v as Json[])];
  if (typeof v === 'object' && v !== null) return { ...(v as Record<string, Json>) };
  return v as Json;
}

/** The fields of `rec` named, space-separated, in `fields` (checked against T at compile time), in that order. */
export function view<T extends object, F extends string>(
  rec: T,
  fields: F & FieldsOf<T, F>,
): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const f of fields.split(' ')) {
    const v: unknown = rec[f as keyof T];
    out[f] = TIME_FIELD.test(f) ? isoOrNull(v as number | null) : copy(v);
  }
  return out;
}
