/**
 * The public Layers Partner API routes (/v1). Each route has a `validate` step (pure: input shape,
 * ids, body, scope-subset rules; failures are never stored under an Idempotency-Key) and a
 * synchronous `execute` step that reads and changes the store (its outcome, errors included, is
 * what an Idempotency-Key stores — except statuses the contract says are never stored).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { archivedConflict, forbiddenScope, notFound, validation } from './errors';
import { newSigningSecret } from './ids';
import type { EndpointClass } from './ratelimit';
import type { ApiKeyRec, Org, Store } from './store';
import { API_KEY_WARNING, Store as StoreClass } from './store';
import {
  LEDGER_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
  bodyObject,
  checkId,
  cursorParam,
  emptyBody,
  encodeCursor,
  integer,
  isValidTimezone,
  limitParam,
  metadataMap,
  optionalEmail,
  optionalString,
  requiredString,
  scopesList,
  timestampParam,
  webhookUrl,
  type Json,
  type Scope,
} from './validate';

export interface RequestCtx {
  requestId: string;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Json | undefined;
  key: ApiKeyRec;
  /** The org the key belongs to. */
  keyOrg: Org;
  /** The org the request acts in: keyOrg, or the child named by X-Layers-Organization (org:admin keys). */
  acting: Org;
}

export interface RouteResult {
  status: number;
  body: Json;
}

export interface RouteDef<I = unknown> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  pattern: string;
  cls: EndpointClass;
  scope: Scope | null;
  idempotency: 'required' | 'optional' | 'none';
  /** POST /v1/organizations: a child org calling it is 422 (orgs are one level deep), before the scope check. */
  rejectChildCaller?: boolean;
  /** whoami answers while the kill switch is on and describes the key's own org. */
  whoami?: boolean;
  /** allocate replays carry `replayed: true`. */
  markReplays?: boolean;
  validate(ctx: RequestCtx): I;
  execute(ctx: RequestCtx, input: I): RouteResult;
}

function route<I>(def: RouteDef<I>): RouteDef<unknown> {
  return def as unknown as RouteDef<unknown>;
}

interface Paged<T> {
  items: T[];
  nextCursor: string | null;
}

/** Newest first by sequence number; `cursor` is the sequence of the last item of the previous page. */
function paginate<T extends { seq: number }>(all: T[], limit: number, cursor: number | null): Paged<T> {
  const sorted = all.filter((x) => cursor === null || x.seq < cursor).sort((a, b) => b.seq - a.seq);
  const items = sorted.slice(0, limit);
  const nextCursor = sorted.length > limit ? encodeCursor(items[items.length - 1].seq) : null;
  return { items, nextCursor };
}

const orgIdParam = (ctx: RequestCtx): string => checkId(ctx.params.orgId, 'org_', 'orgId');

export function buildRoutes(getStore: () => Store): RouteDef<unknown>[] {
  const s = (): Store => getStore();

  /** The direct child named in the path, or 404. Archived children are returned (callers decide). */
  const child = (ctx: RequestCtx, id: string): Org => s().directChild(ctx.acting.id, id);

  /** The child named in the path and one of its keys, or 404 (a key of another org is not found either). */
  const childKey = (ctx: RequestCtx, input: { id: string; keyId: string }) => {
    const org = child(ctx, input.id);
    const key = s().keys.get(input.keyId);
    if (!key || key.organizationId !== org.id) throw notFound('API key');
    return { org, key };
  };

  /** For the caller's own wallet reads: its own org, or a direct child. */
  const selfOrChild = (ctx: RequestCtx, id: string): Org =>
    id === ctx.acting.id ? ctx.acting : child(ctx, id);

  const walletView = (orgId: string): { balance: number; available: number } => {
    const w = s().wallet(orgId);
    return { balance: w.balance, available: StoreClass.available(w) };
  };

  const creditConfigView = (orgId: string): Record<string, Json> => ({
    organizationId: orgId,
    config: s().configJson(orgId),
    ...walletView(orgId),
  });

  const writableActing = (ctx: RequestCtx): Org => {
    if (ctx.acting.status === 'archived') throw archivedConflict(ctx.acting.id);
    return ctx.acting;
  };

  return [
    // ------------------------------------------------------------------ whoami
    route({
      method: 'GET',
      pattern: '/v1/whoami',
      cls: 'read-light',
      scope: null,
      idempotency: 'none',
      whoami: true,
      validate: () => null,
      execute: (ctx) => {
        const org = ctx.keyOrg;
        const root = s().rootOf(org);
        const suspendedChild = org.parentOrganizationId !== null && org.status === 'suspended';
        return {
          status: 200,
          body: {
            organizationId: org.id,
            organizationName: org.name,
            parentOrganizationId: org.parentOrganizationId,
            scopes: [...ctx.key.scopes],
            rateLimitTier: ctx.key.rateLimitTier,
            apiKeyId: ctx.key.id,
            creditBalance: s().wallet(org.id).balance,
            killSwitch: root.killSwitch || org.killSwitch || suspendedChild,
            apiAccessRevoked: root.apiAccessRevoked || org.apiAccessRevoked || ctx.key.suspended,
          },
        };
      },
    }),

    // ------------------------------------------------------------------ child organizations
    route({
      method: 'POST',
      pattern: '/v1/organizations',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      rejectChildCaller: true,
      validate: (ctx) => {
        const b = bodyObject(ctx.body, ['name', 'metadata', 'billingEmail']);
        const name = requiredString(b, 'name', 1, 128);
        const metadata = metadataMap(b.metadata) ?? {};
        for (const k of Object.keys(metadata)) if (metadata[k] === '') delete metadata[k];
        const billingEmail = optionalEmail(b, 'billingEmail') ?? null;
        return { name, metadata, billingEmail };
      },
      execute: (
        ctx,
        input: { name: string; metadata: Record<string, string>; billingEmail: string | null },
      ) => {
        const org = s().createChild(ctx.acting.id, input.name, input.metadata, input.billingEmail);
        return { status: 201, body: s().orgJson(org) };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: (ctx) => {
        const status = ctx.query.get('status');
        if (status !== null && !['active', 'suspended', 'archived'].includes(status)) {
          throw validation('status', 'must be one of active, suspended, archived');
        }
        return {
          status,
          limit: limitParam(ctx.query.get('limit'), 1, 200, 25),
          cursor: cursorParam(ctx.query.get('cursor')),
        };
      },
      execute: (ctx, q: { status: string | null; limit: number; cursor: number | null }) => {
        const all = [...s().orgs.values()].filter(
          (o) => o.parentOrganizationId === ctx.acting.id && (q.status === null || o.status === q.status),
        );
        const page = paginate(all, q.limit, q.cursor);
        return {
          status: 200,
          body: { items: page.items.map((o) => s().orgJson(o)), nextCursor: page.nextCursor },
        };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations/:orgId',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: orgIdParam,
      execute: (ctx, id: string) => {
        const org = child(ctx, id);
        return { status: 200, body: { ...s().orgJson(org), summary: s().orgSummary(org) } };
      },
    }),
    route({
      method: 'PATCH',
      pattern: '/v1/organizations/:orgId',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        const id = orgIdParam(ctx);
        const b = bodyObject(ctx.body, ['metadata']);
        return { id, metadata: metadataMap(b.metadata) ?? {} };
      },
      execute: (ctx, input: { id: string; metadata: Record<string, string> }) => {
        const org = s().patchMetadata(child(ctx, input.id), input.metadata);
        return { status: 200, body: s().orgJson(org) };
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/v1/organizations/:orgId',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        emptyBody(ctx.body);
        return orgIdParam(ctx);
      },
      execute: (ctx, id: string) => ({ status: 200, body: s().archive(child(ctx, id)) }),
    }),
    ...(['suspend', 'resume'] as const).map((action) =>
      route({
        method: 'POST',
        pattern: `/v1/organizations/:orgId/${action}`,
        cls: 'write-light',
        scope: 'org:admin',
        idempotency: 'optional',
        validate: (ctx) => {
          emptyBody(ctx.body);
          return orgIdParam(ctx);
        },
        execute: (ctx, id: string) => {
          const org = s().setStatus(child(ctx, id), action === 'suspend' ? 'suspended' : 'active');
          return { status: 200, body: s().orgJson(org) };
        },
      }),
    ),

    // ------------------------------------------------------------------ child API keys
    route({
      method: 'POST',
      pattern: '/v1/organizations/:orgId/api-keys',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        const id = orgIdParam(ctx);
        const b = bodyObject(ctx.body, ['name', 'scopes', 'env']);
        const name = requiredString(b, 'name', 1, 120);
        const scopes = scopesList(b.scopes);
        if (b.env !== undefined && b.env !== 'live') throw validation('env', 'must be "live"');
        if (scopes.includes('org:admin')) {
          throw forbiddenScope('org:admin can never be delegated to a child key.', {
            reason: 'not_delegable',
            scope: 'org:admin',
          });
        }
        const missing = scopes.filter((sc) => !ctx.key.scopes.includes(sc));
        if (missing.length > 0) {
          throw forbiddenScope("A child key's scopes must be a subset of your key's scopes.", {
            reason: 'not_subset',
            missingScopes: missing,
          });
        }
        return { id, name, scopes };
      },
      execute: (ctx, input: { id: string; name: string; scopes: Scope[] }) => {
        const org = child(ctx, input.id);
        if (org.status === 'archived') throw archivedConflict(org.id);
        const minted = s().createKey(org.id, input.name, input.scopes, ctx.key.rateLimitTier);
        return {
          status: 201,
          body: { apiKey: s().keyJson(minted.key), secret: minted.secret, warning: API_KEY_WARNING },
        };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations/:orgId/api-keys',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: (ctx) => ({
        id: orgIdParam(ctx),
        limit: limitParam(ctx.query.get('limit'), 1, 100, 25),
        cursor: cursorParam(ctx.query.get('cursor')),
      }),
      execute: (ctx, q: { id: string; limit: number; cursor: number | null }) => {
        const org = child(ctx, q.id);
        const all = [...s().keys.values()].filter((k) => k.organizationId === org.id);
        const page = paginate(all, q.limit, q.cursor);
        return {
          status: 200,
          body: { items: page.items.map((k) => s().keyJson(k)), nextCursor: page.nextCursor },
        };
      },
    }),
    route({
      method: 'POST',
      pattern: '/v1/organizations/:orgId/api-keys/:keyId/rotate',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        emptyBody(ctx.body);
        return { id: orgIdParam(ctx), keyId: checkId(ctx.params.keyId, 'key_', 'keyId') };
      },
      execute: (ctx, input: { id: string; keyId: string }) => {
        const { org, key } = childKey(ctx, input);
        const r = s().rotateKey(org, key);
        return {
          status: 200,
          body: {
            apiKey: s().keyJson(r.newKey),
            secret: r.secret,
            warning: API_KEY_WARNING,
            previousApiKey: s().keyJson(r.oldKey),
          },
        };
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/v1/organizations/:orgId/api-keys/:keyId',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        emptyBody(ctx.body);
        return { id: orgIdParam(ctx), keyId: checkId(ctx.params.keyId, 'key_', 'keyId') };
      },
      execute: (ctx, input: { id: string; keyId: string }) => {
        const { key } = childKey(ctx, input);
        return { status: 200, body: { apiKey: s().keyJson(s().revokeKey(key)), deleted: true } };
      },
    }),

    // ------------------------------------------------------------------ credits
    route({
      method: 'POST',
      pattern: '/v1/organizations/:orgId/credits/allocate',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'required',
      markReplays: true,
      validate: (ctx) => {
        const id = orgIdParam(ctx);
        const b = bodyObject(ctx.body, ['credits', 'description', 'metadata']);
        const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
        const description = optionalString(b, 'description', 0, 500) ?? null;
        const metadata = metadataMap(b.metadata) ?? {};
        return { id, credits, description, metadata };
      },
      execute: (
        ctx,
        input: { id: string; credits: number; description: string | null; metadata: Record<string, string> },
      ) => {
        const org = child(ctx, input.id);
        return {
          status: 200,
          body: s().allocate(ctx.acting.id, org, input.credits, input.description, input.metadata),
        };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations/:orgId/credits',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: orgIdParam,
      execute: (ctx, id: string) => {
        const org = selfOrChild(ctx, id);
        const w = s().wallet(org.id);
        return {
          status: 200,
          body: {
            organizationId: org.id,
            balance: w.balance,
            available: StoreClass.available(w),
            reservedCredits: w.reserved,
            usedThisMonth: w.usedThisMonth,
            billingPeriod: w.usagePeriod,
          },
        };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations/:orgId/credits/events',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: (ctx) => {
        const eventType = ctx.query.get('eventType');
        if (eventType !== null && !(LEDGER_EVENT_TYPES as readonly string[]).includes(eventType)) {
          throw validation('eventType', `must be one of ${LEDGER_EVENT_TYPES.join(', ')}`);
        }
        return {
          id: orgIdParam(ctx),
          eventType,
          since: timestampParam(ctx.query.get('since'), 'since'),
          until: timestampParam(ctx.query.get('until'), 'until'),
          limit: limitParam(ctx.query.get('limit'), 1, 100, 25),
          cursor: cursorParam(ctx.query.get('cursor')),
        };
      },
      execute: (
        ctx,
        q: {
          id: string;
          eventType: string | null;
          since: number | null;
          until: number | null;
          limit: number;
          cursor: number | null;
        },
      ) => {
        const org = selfOrChild(ctx, q.id);
        const all = (s().ledgerByOrg.get(org.id) ?? []).filter(
          (e) =>
            (q.eventType === null || e.eventType === q.eventType) &&
            (q.since === null || e.createdAt >= q.since) &&
            (q.until === null || e.createdAt < q.until),
        );
        const page = paginate(all, q.limit, q.cursor);
        return {
          status: 200,
          body: { items: page.items.map((e) => s().ledgerJson(e)), nextCursor: page.nextCursor },
        };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/organizations/:orgId/credit-config',
      cls: 'read-light',
      scope: 'org:admin',
      idempotency: 'none',
      validate: orgIdParam,
      execute: (ctx, id: string) => ({ status: 200, body: creditConfigView(child(ctx, id).id) }),
    }),
    route({
      method: 'PATCH',
      pattern: '/v1/organizations/:orgId/credit-config',
      cls: 'write-light',
      scope: 'org:admin',
      idempotency: 'optional',
      validate: (ctx) => {
        const id = orgIdParam(ctx);
        const b = bodyObject(ctx.body, [
          'monthlyCreditCap',
          'refillThreshold',
          'refillAmount',
          'autoRefillEnabled',
        ]);
        if (b.autoRefillEnabled !== undefined) {
          throw validation(
            'autoRefillEnabled',
            'is derived (read-only); set refillThreshold and refillAmount instead',
          );
        }
        const patch: {
          monthlyCreditCap?: number | null;
          refillThreshold?: number | null;
          refillAmount?: number | null;
        } = {};
        const cap = integer(b.monthlyCreditCap, 'monthlyCreditCap', 0, { nullable: true });
        const threshold = integer(b.refillThreshold, 'refillThreshold', 0, { nullable: true });
        const amount = integer(b.refillAmount, 'refillAmount', 1, { nullable: true });
        if (cap !== undefined) patch.monthlyCreditCap = cap;
        if (threshold !== undefined) patch.refillThreshold = threshold;
        if (amount !== undefined) patch.refillAmount = amount;
        return { id, patch };
      },
      execute: (ctx, input: { id: string; patch: Parameters<Store['patchCreditConfig']>[1] }) => {
        const org = child(ctx, input.id);
        if (Object.keys(input.patch).length === 0) {
          if (org.status === 'archived') throw archivedConflict(org.id);
          return { status: 200, body: creditConfigView(org.id) };
        }
        s().patchCreditConfig(org, input.patch);
        return { status: 200, body: creditConfigView(org.id) };
      },
    }),

    // ------------------------------------------------------------------ projects
    route({
      method: 'POST',
      pattern: '/v1/projects',
      cls: 'write-light',
      scope: 'projects:write',
      idempotency: 'optional',
      validate: (ctx) => {
        const b = bodyObject(ctx.body, null);
        const name = requiredString(b, 'name', 1, 128);
        const timezone = requiredString(b, 'timezone', 1, 64);
        if (!isValidTimezone(timezone))
          throw validation('timezone', 'must be an IANA time zone such as America/Los_Angeles');
        const customerExternalId = optionalString(b, 'customerExternalId', 1, 128) ?? null;
        return { name, timezone, customerExternalId };
      },
      execute: (ctx, input: { name: string; timezone: string; customerExternalId: string | null }) => {
        const org = writableActing(ctx);
        const p = s().createProject(org.id, input.name, input.timezone, input.customerExternalId);
        return { status: 201, body: s().projectJson(p) };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/projects/:projectId',
      cls: 'read-light',
      scope: 'projects:read',
      idempotency: 'none',
      validate: (ctx) => checkId(ctx.params.projectId, 'prj_', 'projectId'),
      execute: (ctx, id: string) => {
        const p = s().projects.get(id);
        if (!p || p.organizationId !== ctx.acting.id) throw notFound('Project');
        return { status: 200, body: s().projectJson(p) };
      },
    }),

    // ------------------------------------------------------------------ webhook endpoints
    route({
      method: 'POST',
      pattern: '/v1/webhook-endpoints',
      cls: 'write-light',
      scope: null,
      idempotency: 'optional',
      validate: (ctx) => {
        const b = bodyObject(ctx.body, ['url', 'events', 'description', 'metadata', 'scope']);
        const url = webhookUrl(b.url);
        const events = b.events;
        if (!Array.isArray(events) || events.length < 1 || events.length > 50) {
          throw validation('events', 'must be an array of 1–50 event types', { min: 1, max: 50 });
        }
        const seen = new Set<string>();
        for (const e of events) {
          if (typeof e !== 'string' || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)) {
            throw validation('events', `unknown event type ${JSON.stringify(e)}`, {
              knownEvents: WEBHOOK_EVENT_TYPES,
            });
          }
          if (seen.has(e)) throw validation('events', `duplicate event type ${e}`);
          seen.add(e);
        }
        const scope = b.scope === undefined ? 'own' : b.scope;
        if (scope !== 'own' && scope !== 'all_children')
          throw validation('scope', 'must be "own" or "all_children"');
        if (scope === 'all_children' && !ctx.key.scopes.includes('org:admin')) {
          throw forbiddenScope('scope "all_children" requires a key with org:admin.', {
            reason: 'missing_scope',
            requiredScope: 'org:admin',
          });
        }
        const description = optionalString(b, 'description', 0, 500) ?? null;
        const metadata = metadataMap(b.metadata) ?? {};
        return {
          url,
          events: events as string[],
          description,
          metadata,
          scope: scope as 'own' | 'all_children',
        };
      },
      execute: (
        ctx,
        input: {
          url: string;
          events: string[];
          description: string | null;
          metadata: Record<string, string>;
          scope: 'own' | 'all_children';
        },
      ) => {
        const org = writableActing(ctx);
        const ep = s().createEndpoint(org.id, input, newSigningSecret());
        return { status: 201, body: { ...s().endpointJson(ep), signingSecret: ep.signingSecret } };
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/webhook-endpoints',
      cls: 'read-light',
      scope: null,
      idempotency: 'none',
      validate: (ctx) => ({
        limit: limitParam(ctx.query.get('limit'), 1, 100, 25),
        cursor: cursorParam(ctx.query.get('cursor')),
      }),
      execute: (ctx, q: { limit: number; cursor: number | null }) => {
        const all = [...s().endpoints.values()].filter(
          (e) => e.organizationId === ctx.acting.id && e.status === 'enabled',
        );
        const page = paginate(all, q.limit, q.cursor);
        return {
          status: 200,
          body: { items: page.items.map((e) => s().endpointJson(e)), nextCursor: page.nextCursor },
        };
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/v1/webhook-endpoints/:endpointId',
      cls: 'write-light',
      scope: null,
      idempotency: 'optional',
      validate: (ctx) => {
        emptyBody(ctx.body);
        return checkId(ctx.params.endpointId, 'whe_', 'endpointId');
      },
      execute: (ctx, id: string) => {
        const ep = s().endpoints.get(id);
        if (!ep || ep.organizationId !== ctx.acting.id) throw notFound('Webhook endpoint');
        if (ep.status !== 'deleted') {
          ep.status = 'deleted';
          ep.deletedAt = s().now();
        }
        return { status: 200, body: { id: ep.id, deleted: true } };
      },
    }),
  ];
}
