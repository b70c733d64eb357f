/**
 * What every /v1 route is made of. A route has a `validate` step (pure: input shape, ids, body,
 * scope-subset rules; its failures are never stored under an Idempotency-Key) and a synchronous
 * `execute` step that reads and changes the store (its outcome, errors included, is what an
 * Idempotency-Key stores — except the statuses the contract says are never stored).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { archivedConflict } from '../errors';
import { created, ok, type Reply } from '../http-io';
import type { IdempotencyMode } from '../idempotency';
import type { EndpointClass } from '../ratelimit';
import type { Store } from '../store';
import type { ApiKeyRec } from '../store/api-keys';
import { directChild, type Org } from '../store/organizations';
import { checkId, cursorParam, encodeCursor, limitParam, type Json, type Scope } from '../validate';

export interface RequestCtx {
  requestId: string;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Json | undefined;
  /** The state this request runs against (the one current when it arrived). */
  store: Store;
  key: ApiKeyRec;
  /** The org the key belongs to. */
  keyOrg: Org;
  /** The org the request acts in: keyOrg, or the child named by X-Layers-Organization (org:admin keys). */
  acting: Org;
}

export type RouteResult = Reply;

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteDef<I = unknown> {
  method: Method;
  pattern: string;
  cls: EndpointClass;
  scope: Scope | null;
  idempotency: IdempotencyMode;
  /** POST /v1/organizations: a child org calling it is 422 (orgs are one level deep), before the scope check. */
  rejectChildCaller?: boolean;
  /** whoami answers while the kill switch is on and describes the key's own org. */
  whoami?: boolean;
  /** allocate replays carry `replayed: true`. */
  markReplays?: boolean;
  validate(ctx: RequestCtx): I;
  execute(ctx: RequestCtx, input: I): RouteResult;
}

/** What a route module writes: everything but the method, pattern and scope, which come first. */
export type RouteBody<I> = Omit<RouteDef<I>, 'method' | 'pattern' | 'scope' | 'cls' | 'idempotency'> &
  Partial<Pick<RouteDef<I>, 'idempotency'>>;

/**
 * A route with the emulator's defaults: every GET is `read-light` and takes no Idempotency-Key;
 * every documented POST/PATCH/DELETE is a small synchronous write (`write-light`) that honors one.
 */
export function route<I>(
  method: Method,
  pattern: string,
  scope: Scope | null,
  body: RouteBody<I>,
): RouteDef<unknown> {
  const read = method === 'GET';
  const defaults = {
    cls: read ? 'read-light' : 'write-light',
    idempotency: read ? 'none' : 'optional',
  } as const;
  return { method, pattern, scope, ...defaults, ...body } as RouteDef<unknown>;
}

export { created, ok };

// ---------------------------------------------------------------- pagination

export interface PageQuery {
  limit: number;
  cursor: number | null;
}

/** `limit` (1–max, default 25) and `cursor` from the query string. */
export function pageQuery(ctx: RequestCtx, max: number): PageQuery {
  return {
    limit: limitParam(ctx.query.get('limit'), 1, max, 25),
    cursor: cursorParam(ctx.query.get('cursor')),
  };
}

/** `{items, nextCursor}`, newest first by sequence; `cursor` is the sequence of the last item of the previous page. */
export function page<T extends { seq: number }>(all: T[], q: PageQuery, toJson: (x: T) => Json): RouteResult {
  const sorted = all.filter((x) => q.cursor === null || x.seq < q.cursor).sort((a, b) => b.seq - a.seq);
  const items = sorted.slice(0, q.limit);
  const nextCursor = sorted.length > q.limit ? encodeCursor(items[items.length - 1].seq) : null;
  return ok({ items: items.map(toJson), nextCursor });
}

// ---------------------------------------------------------------- the orgs a route may touch

export const orgIdParam = (ctx: RequestCtx): string => checkId(ctx.params.orgId, 'org_', 'orgId');

/** The direct child of the acting org named in the path, or 404. Archived children are returned (callers decide). */
export const child = (ctx: RequestCtx, id: string): Org => directChild(ctx.store, ctx.acting.id, id);

/** For the caller's own wallet reads: its own org, or a direct child. */
export const selfOrChild = (ctx: RequestCtx, id: string): Org =>
  id === ctx.acting.id ? ctx.acting : child(ctx, id);

/** The acting org, for creating something in it: 409 once archived. */
export function writableActing(ctx: RequestCtx): Org {
  if (ctx.acting.status === 'archived') throw archivedConflict(ctx.acting.id);
  return ctx.acting;
}
