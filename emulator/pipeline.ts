/**
 * The request pipeline every /v1 route goes through, in order —
 *
 *   route match (404) → fault dice (429 / 500 before anything runs) → read body
 *   → authentication (401) → rate limit (429) → kill switch (503) → X-Layers-Organization (422/404)
 *   → child-caller rule (422) → route scope (403) → Idempotency-Key presence/format (400/422)
 *   → JSON body (422) → route validation (422/403)
 *   → idempotency: replay / 409 body_mismatch / 409 in_flight / mark in flight
 *   → injected latency (the key is in flight meanwhile) → execute (synchronous, atomic)
 *   → store the response under the key (unless 400/401/422/429/503/5xx) → respond, or drop the socket.
 */
import type http from 'node:http';
import { ApiError, notFound, validation } from './errors';
import type { FaultDecision } from './faults';
import { asApiError, parseJsonBody, readBody, sendJson, type Target } from './http-io';
import { fingerprintOf, idempotencyKeyOf, type Claim, type IdemRecord } from './idempotency';
import { API_ROUTES, type RequestCtx, type RouteDef, type RouteResult } from './routes';
import { Router, type Match } from './router';
import type { Emulator } from './server';
import type { Store } from './store';
import { keyBySecret, keyStatus, type ApiKeyRec } from './store/api-keys';
import { directChild, rootOf, type Org } from './store/organizations';
import { checkId, type Json } from './validate';

type Route = RouteDef<unknown>;
type Headers = Record<string, string> | undefined;

const JSON_CONTENT_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function authenticate(store: Store, req: http.IncomingMessage): { key: ApiKeyRec; org: Org } {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^Bearer +(\S+) *$/i.exec(h);
  if (!m) {
    throw new ApiError('UNAUTHENTICATED', 'Send your API key as `Authorization: Bearer <key>`.', {
      reason: h === undefined ? 'missing' : 'malformed',
    });
  }
  const key = keyBySecret(store, m[1]);
  const org = key ? store.orgs.get(key.organizationId) : undefined;
  if (!key || !org) throw new ApiError('UNAUTHENTICATED', 'Unknown API key.', { reason: 'unknown' });
  const status = keyStatus(store, key);
  if (status !== 'active')
    throw new ApiError('UNAUTHENTICATED', `This API key is ${status}.`, { reason: status });
  return { key, org };
}

function checkKillSwitch(store: Store, key: ApiKeyRec, org: Org): void {
  if (key.suspended) throw new ApiError('KILL_SWITCH', 'This API key is suspended.', { scope: 'key' });
  const root = rootOf(store, org);
  const details = { scope: 'org', organizationId: org.id };
  if (root.killSwitch || org.killSwitch || root.apiAccessRevoked || org.apiAccessRevoked) {
    throw new ApiError('KILL_SWITCH', 'The organization kill switch is on.', details);
  }
  if (org.parentOrganizationId !== null && org.status === 'suspended') {
    throw new ApiError('KILL_SWITCH', 'This organization is suspended.', details);
  }
}

/** X-Layers-Organization: honored for org:admin keys only (ignored otherwise); a direct child or 404. */
function actingOrg(store: Store, req: http.IncomingMessage, key: ApiKeyRec, keyOrg: Org): Org {
  const raw = header(req, 'x-layers-organization');
  if (raw === undefined || !key.scopes.includes('org:admin')) return keyOrg;
  const id = checkId(raw, 'org_', 'X-Layers-Organization');
  return id === keyOrg.id ? keyOrg : directChild(store, keyOrg.id, id);
}

function replayOf(def: Route, rec: IdemRecord): RouteResult {
  const success = rec.status >= 200 && rec.status < 300;
  const marked = def.markReplays && success && typeof rec.body === 'object' && rec.body !== null;
  return {
    status: rec.status,
    body: marked ? { ...(rec.body as Record<string, Json>), replayed: true } : rec.body,
  };
}

export class ApiPipeline {
  private readonly router = new Router(API_ROUTES);

  constructor(private readonly emu: Emulator) {}

  async handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    target: Target,
  ): Promise<void> {
    const { method, path } = target;
    const m = this.router.match(method, path);
    res.setHeader(
      'X-RateLimit-Endpoint-Class',
      m ? m.def.cls : method === 'GET' ? 'read-light' : 'write-light',
    );
    const routeKey = m ? `${m.def.method} ${m.def.pattern}` : `${method} (unmatched)`;
    let fault: FaultDecision | null = null;
    let claim: Claim | null = null;
    try {
      if (!m) {
        await readBody(req);
        throw notFound('Route');
      }
      fault = this.emu.faults?.decide(method, m.def.pattern, path, header(req, 'idempotency-key')) ?? null;
      await this.injectEarlyFault(req, fault);
      const raw = await readBody(req);
      if (raw instanceof ApiError) throw raw;
      const { ctx, idemKey } = this.admit(req, res, m, requestId, target, raw);
      const input = m.def.validate(ctx);
      if (idemKey !== undefined) {
        const fingerprint = fingerprintOf(method, path, ctx.acting.id, ctx.body);
        const r = this.emu.idempotency.begin(ctx.store, ctx.key.id, idemKey, fingerprint);
        if ('replay' in r) {
          return this.respond(req, res, routeKey, replayOf(m.def, r.replay), fault, {
            'Idempotent-Replayed': 'true',
          });
        }
        claim = r.claim;
      }
      if (fault && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault?.latencyMs ?? 0));
      if (this.emu.closed) {
        res.destroy();
        return;
      }
      const { result, headers } = this.execute(m.def, ctx, input, requestId);
      if (claim) this.emu.idempotency.settle(claim, this.emu.store, routeKey, result);
      claim = null;
      if (method !== 'GET') ctx.store.onChange();
      return this.respond(req, res, routeKey, result, fault, headers);
    } catch (e) {
      if (claim) this.emu.idempotency.release(claim);
      if (!(e instanceof ApiError) && !this.emu.opts.quiet)
        console.error('[layers-emulator] internal error', e);
      const err = asApiError(e);
      const result = { status: err.status, body: err.body(requestId) as unknown as Json };
      return this.respond(req, res, routeKey, result, fault, err.headers);
    }
  }

  /** Injected 429 / 500 (nothing runs) and `respondWith` (a documented error instead of executing). */
  private async injectEarlyFault(req: http.IncomingMessage, fault: FaultDecision | null): Promise<void> {
    if (fault?.rateLimited) {
      throw new ApiError(
        'RATE_LIMITED',
        'Rate limit exceeded (injected fault).',
        { injected: true },
        { 'Retry-After': '1' },
      );
    }
    if (fault?.beforeError)
      throw new ApiError('PLATFORM_ERROR', 'Internal error (injected fault).', { injected: true });
    if (fault?.respondWith) {
      await readBody(req);
      throw new ApiError(fault.respondWith.code, fault.respondWith.message, { injected: true });
    }
  }

  /** Authentication through the JSON body: every check a request passes before its route validates it. */
  private admit(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    m: Match<Route>,
    requestId: string,
    target: Target,
    raw: Buffer,
  ): { ctx: RequestCtx; idemKey: string | undefined } {
    const def = m.def;
    const store = this.emu.store;
    const { key, org: keyOrg } = authenticate(store, req);
    const now = store.now();
    key.lastUsedAt = now;
    const rate = this.emu.limiter.take(key.id, def.cls, store.tierLimits(key.rateLimitTier), now);
    if (rate.limit !== null) {
      res.setHeader('X-RateLimit-Limit', rate.limit);
      res.setHeader('X-RateLimit-Remaining', rate.remaining ?? 0);
    }
    if (!rate.allowed) {
      throw new ApiError(
        'RATE_LIMITED',
        `Rate limit exceeded for ${def.cls} requests on tier ${key.rateLimitTier}.`,
        { endpointClass: def.cls, limit: rate.limit, retryAfterSeconds: rate.retryAfterSeconds },
        { 'Retry-After': String(rate.retryAfterSeconds) },
      );
    }
    if (!def.whoami) checkKillSwitch(store, key, keyOrg);
    const acting = def.whoami ? keyOrg : actingOrg(store, req, key, keyOrg);
    if (def.rejectChildCaller && acting.parentOrganizationId !== null) {
      throw validation('organization', 'child organizations cannot create organizations (one level deep)', {
        reason: 'child_cannot_create_children',
      });
    }
    if (def.scope !== null && !key.scopes.includes(def.scope)) {
      throw new ApiError('FORBIDDEN_SCOPE', `This route requires the ${def.scope} scope.`, {
        requiredScope: def.scope,
      });
    }
    const idemKey = idempotencyKeyOf(req.headers, def.idempotency);
    if (raw.length > 0 && !JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
      throw validation('Content-Type', 'must be application/json when a body is sent');
    }
    const ctx: RequestCtx = {
      requestId,
      method: def.method,
      path: target.path,
      query: target.query,
      params: m.params,
      headers: req.headers,
      body: parseJsonBody(raw),
      store,
      key,
      keyOrg,
      acting,
    };
    return { ctx, idemKey };
  }

  /** Execute synchronously, so nothing else interleaves between the checks and the commit. */
  private execute(
    def: Route,
    ctx: RequestCtx,
    input: unknown,
    requestId: string,
  ): { result: RouteResult; headers: Headers } {
    try {
      return { result: def.execute(ctx, input), headers: undefined };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return { result: { status: e.status, body: e.body(requestId) as unknown as Json }, headers: e.headers };
    }
  }

  private respond(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    routeKey: string,
    result: RouteResult,
    fault: FaultDecision | null,
    headers: Headers,
  ): void {
    const injectedEarly = fault?.rateLimited || fault?.beforeError || fault?.respondWith;
    if (fault?.afterCommitDrop && !injectedEarly) {
      this.emu.countRequest(routeKey, 'dropped');
      req.socket.destroy();
      return;
    }
    this.emu.countRequest(routeKey, String(result.status));
    sendJson(res, result.status, result.body, headers);
  }
}
