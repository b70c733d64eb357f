/**
 * Webhook endpoints (000 step 5, 002 firehose, CONTRACT.md "Webhooks"): create (the signing secret is
 * shown once), list without secrets, delete. Endpoints belong to the acting org: the parent key with
 * `X-Layers-Organization: <child>` creates, lists and deletes the child's own endpoints; an endpoint
 * of any other org is 404, exactly like an unknown id.
 */
import { forbiddenScope, notFound, validation } from '../errors';
import { newSigningSecret } from '../ids';
import { createEndpoint, deleteEndpoint, endpointJson, type EndpointInput } from '../store/webhooks';
import {
  WEBHOOK_EVENT_TYPES,
  bodyObject,
  checkId,
  emptyBody,
  metadataMap,
  optionalString,
  webhookUrl,
  type Json,
} from '../validate';
import { created, ok, page, pageQuery, route, writableActing, type RequestCtx } from './kit';

/** 1–50 known, distinct event types. */
function eventTypes(events: Json | undefined): string[] {
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
  return [...seen];
}

/**
 * `own` (default) or `all_children`. The firehose needs org:admin (403, decided from the key alone),
 * and an org that has children (422 for a child — e.g. the parent acting in it through
 * X-Layers-Organization: orgs are one level deep; emulator decision).
 */
function endpointScope(ctx: RequestCtx, scope: Json | undefined): EndpointInput['scope'] {
  const v = scope === undefined ? 'own' : scope;
  if (v !== 'own' && v !== 'all_children') throw validation('scope', 'must be "own" or "all_children"');
  if (v === 'all_children' && !ctx.key.scopes.includes('org:admin')) {
    throw forbiddenScope('scope "all_children" requires a key with org:admin.', {
      reason: 'missing_scope',
      requiredScope: 'org:admin',
    });
  }
  if (v === 'all_children' && ctx.acting.parentOrganizationId !== null) {
    throw validation('scope', 'must be "own" for a child organization (it has no children)', {
      reason: 'child_has_no_children',
    });
  }
  return v;
}

const create = route('POST', '/v1/webhook-endpoints', null, {
  validate: (ctx): EndpointInput => {
    const b = bodyObject(ctx.body, ['url', 'events', 'description', 'metadata', 'scope']);
    const url = webhookUrl(b.url);
    const events = eventTypes(b.events);
    const scope = endpointScope(ctx, b.scope);
    const description = optionalString(b, 'description', 0, 500) ?? null;
    const metadata = metadataMap(b.metadata) ?? {};
    return { url, events, description, metadata, scope };
  },
  execute: (ctx, input: EndpointInput) => {
    const ep = createEndpoint(ctx.store, writableActing(ctx).id, input, newSigningSecret());
    return created({ ...endpointJson(ep), signingSecret: ep.signingSecret });
  },
});

const list = route('GET', '/v1/webhook-endpoints', null, {
  validate: (ctx) => pageQuery(ctx, 100),
  execute: (ctx, q: { limit: number; cursor: number | null }) => {
    const all = [...ctx.store.endpoints.values()].filter(
      (e) => e.organizationId === ctx.acting.id && e.status !== 'deleted',
    );
    return page(all, q, endpointJson);
  },
});

const remove = route('DELETE', '/v1/webhook-endpoints/:endpointId', null, {
  validate: (ctx) => {
    emptyBody(ctx.body);
    return checkId(ctx.params.endpointId, 'whe_', 'endpointId');
  },
  execute: (ctx, id: string) => {
    const ep = ctx.store.endpoints.get(id);
    if (!ep || ep.organizationId !== ctx.acting.id) throw notFound('Webhook endpoint');
    deleteEndpoint(ctx.store, ep);
    return ok({ id: ep.id, deleted: true });
  },
});

export const webhookRoutes = [create, list, remove];
