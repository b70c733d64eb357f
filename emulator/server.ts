/**
 * The emulator's HTTP server: the request pipeline that every /v1 route goes through, in order —
 *
 *   route match (404) → fault dice (429 / 500 before anything runs) → read body
 *   → authentication (401) → rate limit (429) → kill switch (503) → X-Layers-Organization (422/404)
 *   → child-caller rule (422) → route scope (403) → Idempotency-Key presence/format (400/422)
 *   → JSON body (422) → route validation (422/403)
 *   → idempotency: replay / 409 body_mismatch / 409 in_flight / mark in flight
 *   → injected latency (the key is in flight meanwhile) → execute (synchronous, atomic)
 *   → store the response under the key (unless 400/401/422/429/503/5xx) → respond, or drop the socket.
 *
 * The control API (/_emulator/*) lives in control.ts and bypasses auth, limits and faults.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from './control';
import { ApiError, notFound, validation } from './errors';
import { canonicalJson, newRequestId } from './ids';
import { Persister } from './persistence';
import { RateLimiter, type EndpointClass } from './ratelimit';
import { FaultPlan, type FaultDecision } from './faults';
import { buildRoutes, type RequestCtx, type RouteDef, type RouteResult } from './routes';
import { BUILTIN_TIERS, IDEMPOTENCY_TTL_MS, Store, type ApiKeyRec, type Org } from './store';
import type { Json } from './validate';
import { checkId } from './validate';
import { WebhookDispatcher } from './webhooks';

export type BuiltinTier = 'standard' | 'pilot' | 'partner' | 'unlimited';

export interface EmulatorOptions {
  /** Default 4010; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The bootstrap parent key's secret; random `lp_live_<keyid>_<secret>` when omitted. */
  parentKey?: string;
  /** Initial parent wallet balance (default 100000). */
  parentCredits?: number;
  /** Rate-limit tier of the parent key (default partner). */
  tier?: BuiltinTier;
  /** Persist state to `<dataDir>/emulator-state.json` (atomic writes) and load it at start. */
  dataDir?: string;
  /** Silence the emulator's own console output. */
  quiet?: boolean;
  /** Webhook retry backoff base (ms): attempt n waits base · 2^(n-1). Default 1000. */
  webhookRetryBaseMs?: number;
  /** Webhook delivery attempts before a delivery is `failed`. Default 6. */
  webhookMaxAttempts?: number;
  /** Per-attempt webhook request timeout (ms). Default 10000. */
  webhookTimeoutMs?: number;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  parentKey?: string;
  parentCredits: number;
  tier: BuiltinTier;
  dataDir?: string;
  quiet: boolean;
  webhookRetryBaseMs: number;
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
}

interface CompiledRoute {
  def: RouteDef<unknown>;
  parts: string[];
  key: string;
}

const NON_STORED = new Set([400, 401, 422, 429, 503]);
const MAX_BODY = 1024 * 1024;
const PARENT_NAME = 'Layers Partner (emulator)';

export function resolveOptions(o: EmulatorOptions = {}): ResolvedOptions {
  const tier = o.tier ?? 'partner';
  if (!(tier in BUILTIN_TIERS))
    throw new Error(`unknown tier ${tier}: use standard, pilot, partner or unlimited`);
  const parentCredits = o.parentCredits ?? 100_000;
  if (!Number.isSafeInteger(parentCredits) || parentCredits < 0)
    throw new Error('parentCredits must be an integer ≥ 0');
  return {
    port: o.port ?? 4010,
    host: o.host ?? '127.0.0.1',
    parentKey: o.parentKey,
    parentCredits,
    tier,
    dataDir: o.dataDir,
    quiet: o.quiet ?? false,
    webhookRetryBaseMs: o.webhookRetryBaseMs ?? 1000,
    webhookMaxAttempts: o.webhookMaxAttempts ?? 6,
    webhookTimeoutMs: o.webhookTimeoutMs ?? 10_000,
  };
}

export class Emulator {
  store: Store;
  readonly limiter = new RateLimiter();
  faults: FaultPlan | null = null;
  /** scopeKey → fingerprint of requests currently executing under an Idempotency-Key. */
  readonly inFlight = new Map<string, string>();
  readonly webhooks: WebhookDispatcher;
  readonly persister: Persister | null;
  readonly server: http.Server;
  private readonly routes: CompiledRoute[];
  private closed = false;
  private storedSinceSweep = 0;

  constructor(readonly opts: ResolvedOptions) {
    this.persister = opts.dataDir ? new Persister(opts.dataDir, () => this.store.toPersisted()) : null;
    const loaded = this.persister?.load() ?? null;
    this.store = loaded ? Store.fromPersisted(loaded) : this.freshStore();
    if (loaded && opts.parentKey !== undefined && !this.store.keyBySecret(opts.parentKey)) {
      // A key passed explicitly must work even against a state persisted with another one.
      const parentId = this.store.bootstrap.parentOrganizationId;
      const parentKey = this.store.keys.get(this.store.bootstrap.parentKeyId);
      const k = this.store.createKey(
        parentId,
        'partner admin key',
        parentKey?.scopes ?? [],
        this.store.defaultTier,
        opts.parentKey,
      );
      this.store.bootstrap = {
        parentOrganizationId: parentId,
        parentKeyId: k.key.id,
        parentKeySecret: opts.parentKey,
      };
    }
    this.webhooks = new WebhookDispatcher(() => this.store, {
      baseDelayMs: opts.webhookRetryBaseMs,
      maxAttempts: opts.webhookMaxAttempts,
      timeoutMs: opts.webhookTimeoutMs,
    });
    this.wireStore();
    this.routes = buildRoutes(() => this.store).map((def) => ({
      def,
      parts: def.pattern.split('/'),
      key: `${def.method} ${def.pattern}`,
    }));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!this.opts.quiet) console.error('[layers-emulator] unhandled', e);
        if (!res.headersSent) res.destroy();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  /** A brand-new state: the bootstrap parent org, its wallet and its admin key. */
  freshStore(keep?: { orgId: string; keyId: string; secret: string }): Store {
    const store = new Store(this.opts.tier);
    const { org, key, secret } = store.createParentOrg(
      PARENT_NAME,
      this.opts.parentCredits,
      keep?.secret ?? this.opts.parentKey,
      keep ? { orgId: keep.orgId, keyId: keep.keyId } : {},
    );
    store.bootstrap = { parentOrganizationId: org.id, parentKeyId: key.id, parentKeySecret: secret };
    return store;
  }

  wireStore(): void {
    this.store.quiet = this.opts.quiet;
    this.store.onChange = () => this.persister?.schedule();
    this.store.onDeliveriesCreated = (ids) => this.webhooks.schedule(ids);
  }

  /** /_emulator/reset: fresh state, same parent org id and key, no faults, real clock. */
  reset(): void {
    this.webhooks.cancelAll();
    this.limiter.reset();
    this.faults = null;
    this.inFlight.clear();
    const b = this.store.bootstrap;
    this.store = this.freshStore({
      orgId: b.parentOrganizationId,
      keyId: b.parentKeyId,
      secret: b.parentKeySecret,
    });
    this.wireStore();
    this.persister?.schedule();
  }

  get parentOrganizationId(): string {
    return this.store.bootstrap.parentOrganizationId;
  }

  get parentKey(): string {
    return this.store.bootstrap.parentKeySecret;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.webhooks.resumePending();
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.webhooks.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.persister) {
      this.persister.cancel();
      this.persister.flush();
    }
  }

  // ------------------------------------------------------------------ pipeline

  private match(
    method: string,
    path: string,
  ): { route: CompiledRoute; params: Record<string, string> } | null {
    const parts = path.split('/');
    outer: for (const r of this.routes) {
      if (r.def.method !== method || r.parts.length !== parts.length) continue;
      let params: Record<string, string> | null = null;
      for (let i = 0; i < parts.length; i++) {
        const p = r.parts[i];
        if (p.charCodeAt(0) === 58 /* : */) {
          if (parts[i] === '') continue outer;
          let v = parts[i];
          try {
            v = decodeURIComponent(v);
          } catch {
            // leave it raw: the id check rejects it with 422
          }
          (params ??= {})[p.slice(1)] = v;
        } else if (p !== parts[i]) continue outer;
      }
      return { route: r, params: params ?? {} };
    }
    return null;
  }

  countRequest(routeKey: string, status: string): void {
    const reqs = this.store.requests;
    reqs.total++;
    const byStatus = (reqs.byRoute[routeKey] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }

  send(res: http.ServerResponse, status: number, body: Json, headers?: Record<string, string>): void {
    const text = JSON.stringify(body);
    res.statusCode = status;
    if (headers) for (const h in headers) res.setHeader(h, headers[h]);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer | ApiError> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) tooLarge = true;
        else chunks.push(c);
      });
      req.on('end', () =>
        resolve(
          tooLarge
            ? validation('body', 'must be at most 1 MiB')
            : chunks.length === 1
              ? chunks[0]
              : Buffer.concat(chunks),
        ),
      );
      req.on('error', () => resolve(Buffer.alloc(0)));
    });
  }

  private parseJson(req: http.IncomingMessage, raw: Buffer): Json | undefined {
    if (raw.length === 0) return undefined;
    const ct = req.headers['content-type'] ?? '';
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(ct)) {
      throw validation('Content-Type', 'must be application/json when a body is sent');
    }
    try {
      return JSON.parse(raw.toString('utf8')) as Json;
    } catch {
      throw validation('body', 'is not valid JSON', { reason: 'invalid_json' });
    }
  }

  private authenticate(req: http.IncomingMessage): { key: ApiKeyRec; org: Org } {
    const h = req.headers.authorization;
    const m = h === undefined ? null : /^Bearer +(\S+) *$/i.exec(h);
    if (!m) {
      throw new ApiError('UNAUTHENTICATED', 'Send your API key as `Authorization: Bearer <key>`.', {
        reason: h === undefined ? 'missing' : 'malformed',
      });
    }
    const key = this.store.keyBySecret(m[1]);
    const org = key ? this.store.orgs.get(key.organizationId) : undefined;
    if (!key || !org) throw new ApiError('UNAUTHENTICATED', 'Unknown API key.', { reason: 'unknown' });
    const status = this.store.keyStatus(key);
    if (status !== 'active') {
      throw new ApiError('UNAUTHENTICATED', `This API key is ${status}.`, { reason: status });
    }
    return { key, org };
  }

  private killSwitch(key: ApiKeyRec, org: Org): void {
    if (key.suspended) {
      throw new ApiError('KILL_SWITCH', 'This API key is suspended.', { scope: 'key' });
    }
    const root = this.store.rootOf(org);
    if (root.killSwitch || org.killSwitch || root.apiAccessRevoked || org.apiAccessRevoked) {
      throw new ApiError('KILL_SWITCH', 'The organization kill switch is on.', {
        scope: 'org',
        organizationId: org.id,
      });
    }
    if (org.parentOrganizationId !== null && org.status === 'suspended') {
      throw new ApiError('KILL_SWITCH', 'This organization is suspended.', {
        scope: 'org',
        organizationId: org.id,
      });
    }
  }

  private actingOrg(req: http.IncomingMessage, key: ApiKeyRec, keyOrg: Org): Org {
    const raw = req.headers['x-layers-organization'];
    if (raw === undefined || !key.scopes.includes('org:admin')) return keyOrg; // ignored for non-admin keys
    const id = checkId(Array.isArray(raw) ? raw[0] : raw, 'org_', 'X-Layers-Organization');
    if (id === keyOrg.id) return keyOrg;
    return this.store.directChild(keyOrg.id, id);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('X-Request-Id', requestId);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);

    if (path === '/_emulator' || path.startsWith('/_emulator/')) {
      res.setHeader('X-RateLimit-Endpoint-Class', method === 'GET' ? 'read-light' : 'write-light');
      const raw = await this.readBody(req);
      await handleControl(this, req, res, requestId, method, path, url.slice(path.length + 1), raw);
      return;
    }

    const m = this.match(method, path);
    const cls: EndpointClass = m ? m.route.def.cls : method === 'GET' ? 'read-light' : 'write-light';
    res.setHeader('X-RateLimit-Endpoint-Class', cls);
    const routeKey = m ? m.route.key : `${method} (unmatched)`;

    let fault: FaultDecision | null = null;
    let scopeKey: string | null = null;
    let result: RouteResult;
    let extraHeaders: Record<string, string> | undefined;
    try {
      if (!m) {
        await this.readBody(req);
        throw notFound('Route');
      }
      const def = m.route.def;
      const idemHeader = req.headers['idempotency-key'];
      fault = this.faults
        ? this.faults.decide(
            method,
            def.pattern,
            path,
            typeof idemHeader === 'string' ? idemHeader : undefined,
          )
        : null;
      if (fault?.rateLimited) {
        throw new ApiError(
          'RATE_LIMITED',
          'Rate limit exceeded (injected fault).',
          { injected: true },
          { 'Retry-After': '1' },
        );
      }
      if (fault?.beforeError) {
        throw new ApiError('PLATFORM_ERROR', 'Internal error (injected fault).', { injected: true });
      }
      if (fault?.respondWith) {
        await this.readBody(req);
        throw new ApiError(fault.respondWith.code, fault.respondWith.message, { injected: true });
      }
      const raw = await this.readBody(req);
      if (raw instanceof ApiError) throw raw;

      const { key, org: keyOrg } = this.authenticate(req);
      const store = this.store;
      const now = store.now();
      key.lastUsedAt = now;
      const rate = this.limiter.take(key.id, cls, store.tierLimits(key.rateLimitTier), now);
      if (rate.limit !== null) {
        res.setHeader('X-RateLimit-Limit', rate.limit);
        res.setHeader('X-RateLimit-Remaining', rate.remaining ?? 0);
      }
      if (!rate.allowed) {
        throw new ApiError(
          'RATE_LIMITED',
          `Rate limit exceeded for ${cls} requests on tier ${key.rateLimitTier}.`,
          { endpointClass: cls, limit: rate.limit, retryAfterSeconds: rate.retryAfterSeconds },
          { 'Retry-After': String(rate.retryAfterSeconds) },
        );
      }
      if (!def.whoami) this.killSwitch(key, keyOrg);
      const acting = def.whoami ? keyOrg : this.actingOrg(req, key, keyOrg);
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
      let idemKey: string | undefined;
      if (def.idempotency !== 'none') {
        const h = req.headers['idempotency-key'];
        const v = Array.isArray(h) ? h[0] : h;
        if (v === undefined && def.idempotency === 'required') {
          throw new ApiError(
            'IDEMPOTENCY_REQUIRED',
            'This money-movement route requires an Idempotency-Key header.',
          );
        }
        if (v !== undefined) {
          if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) {
            throw validation('Idempotency-Key', 'must be a UUID');
          }
          idemKey = v.toLowerCase();
        }
      }
      const body = this.parseJson(req, raw);
      const ctx: RequestCtx = {
        requestId,
        method,
        path,
        query: new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1)),
        params: m.params,
        headers: req.headers,
        body,
        key,
        keyOrg,
        acting,
      };
      const input = def.validate(ctx);

      let fingerprint = '';
      if (idemKey !== undefined) {
        scopeKey = `${key.id}:${idemKey}`;
        fingerprint = `${method} ${path}\n${acting.id}\n${canonicalJson(body ?? {})}`;
        const rec = store.idempotency.get(scopeKey);
        if (rec && store.now() - rec.createdAt >= IDEMPOTENCY_TTL_MS) store.idempotency.delete(scopeKey);
        const live = store.idempotency.get(scopeKey);
        const inflight = this.inFlight.get(scopeKey);
        if (live || inflight !== undefined) {
          const stored = live ? live.fingerprint : inflight;
          scopeKey = null; // not ours: never release someone else's reservation
          if (stored !== fingerprint) {
            throw new ApiError(
              'IDEMPOTENCY_CONFLICT',
              'This Idempotency-Key was already used with a different request.',
              {
                reason: 'body_mismatch',
              },
            );
          }
          if (!live) {
            throw new ApiError(
              'IDEMPOTENCY_CONFLICT',
              'A request with this Idempotency-Key is still being processed.',
              {
                reason: 'in_flight',
              },
            );
          }
          const replayBody =
            def.markReplays &&
            live.status >= 200 &&
            live.status < 300 &&
            typeof live.body === 'object' &&
            live.body !== null
              ? { ...(live.body as Record<string, Json>), replayed: true }
              : live.body;
          result = { status: live.status, body: replayBody };
          extraHeaders = { 'Idempotent-Replayed': 'true' };
          return this.respond(req, res, routeKey, result, fault, extraHeaders);
        }
        this.inFlight.set(scopeKey, fingerprint);
      }

      if (fault && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault?.latencyMs ?? 0));
      if (this.closed) {
        res.destroy();
        return;
      }

      // Execute: synchronous, so nothing else interleaves between the checks and the commit.
      try {
        result = def.execute(ctx, input);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        result = { status: e.status, body: e.body(requestId) as unknown as Json };
        extraHeaders = e.headers;
      }
      if (scopeKey !== null) {
        this.inFlight.delete(scopeKey);
        if (result.status < 500 && !NON_STORED.has(result.status) && this.store === store) {
          if (++this.storedSinceSweep >= 1000) {
            this.storedSinceSweep = 0;
            store.expireIdempotency(); // keep memory and the data file bounded by the 24 h window
          }
          store.idempotency.set(scopeKey, {
            scopeKey,
            fingerprint,
            route: routeKey,
            status: result.status,
            body: result.body,
            createdAt: store.now(),
          });
        }
        scopeKey = null;
      }
      if (method !== 'GET') store.onChange();
      return this.respond(req, res, routeKey, result, fault, extraHeaders);
    } catch (e) {
      if (scopeKey !== null) this.inFlight.delete(scopeKey);
      const err =
        e instanceof ApiError
          ? e
          : new ApiError('PLATFORM_ERROR', 'Internal error.', {
              reason: e instanceof Error ? e.message : String(e),
            });
      if (!(e instanceof ApiError) && !this.opts.quiet) console.error('[layers-emulator] internal error', e);
      return this.respond(
        req,
        res,
        routeKey,
        { status: err.status, body: err.body(requestId) as unknown as Json },
        fault,
        err.headers,
      );
    }
  }

  private respond(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    routeKey: string,
    result: RouteResult,
    fault: FaultDecision | null,
    headers?: Record<string, string>,
  ): void {
    const injectedEarly = fault?.rateLimited || fault?.beforeError || fault?.respondWith;
    if (fault?.afterCommitDrop && !injectedEarly) {
      this.countRequest(routeKey, 'dropped');
      req.socket.destroy();
      return;
    }
    this.countRequest(routeKey, String(result.status));
    this.send(res, result.status, result.body, headers);
  }
}

export async function createEmulator(
  options: EmulatorOptions = {},
): Promise<{ emulator: Emulator; url: string }> {
  const emulator = new Emulator(resolveOptions(options));
  const url = await emulator.listen();
  return { emulator, url };
}
