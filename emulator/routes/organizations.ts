/**
 * whoami (page 001) and child organizations (page 002, CONTRACT.md "Child organizations"): create,
 * list, read with summary, metadata merge, suspend/resume, archive. All but whoami need org:admin.
 */
import { validation } from '../errors';
import { wallet } from '../store/credits';
import {
  archive,
  createChild,
  orgJson,
  orgSummary,
  patchMetadata,
  rootOf,
  setStatus,
} from '../store/organizations';
import { bodyObject, emptyBody, metadataMap, optionalEmail, requiredString } from '../validate';
import { child, created, ok, orgIdParam, page, pageQuery, route, type RequestCtx } from './kit';

const ORG_STATUSES = ['active', 'suspended', 'archived'];

/** An org id in the path and no body (DELETE, suspend, resume). */
const orgIdNoBody = (ctx: RequestCtx): string => {
  emptyBody(ctx.body);
  return orgIdParam(ctx);
};

const whoami = route('GET', '/v1/whoami', null, {
  whoami: true,
  validate: () => null,
  execute: (ctx) => {
    const org = ctx.keyOrg;
    const root = rootOf(ctx.store, org);
    const suspendedChild = org.parentOrganizationId !== null && org.status === 'suspended';
    return ok({
      organizationId: org.id,
      organizationName: org.name,
      parentOrganizationId: org.parentOrganizationId,
      scopes: [...ctx.key.scopes],
      rateLimitTier: ctx.key.rateLimitTier,
      apiKeyId: ctx.key.id,
      creditBalance: wallet(ctx.store, org.id).balance,
      killSwitch: root.killSwitch || org.killSwitch || suspendedChild,
      apiAccessRevoked: root.apiAccessRevoked || org.apiAccessRevoked || ctx.key.suspended,
    });
  },
});

const createOrg = route('POST', '/v1/organizations', 'org:admin', {
  rejectChildCaller: true,
  validate: (ctx) => {
    const b = bodyObject(ctx.body, ['name', 'metadata', 'billingEmail']);
    const name = requiredString(b, 'name', 1, 128);
    const metadata = metadataMap(b.metadata) ?? {};
    for (const k of Object.keys(metadata)) if (metadata[k] === '') delete metadata[k];
    const billingEmail = optionalEmail(b, 'billingEmail') ?? null;
    return { name, metadata, billingEmail };
  },
  execute: (ctx, input: { name: string; metadata: Record<string, string>; billingEmail: string | null }) =>
    created(orgJson(createChild(ctx.store, ctx.acting.id, input))),
});

const listOrgs = route('GET', '/v1/organizations', 'org:admin', {
  validate: (ctx) => {
    const status = ctx.query.get('status');
    if (status !== null && !ORG_STATUSES.includes(status)) {
      throw validation('status', `must be one of ${ORG_STATUSES.join(', ')}`);
    }
    return { status, ...pageQuery(ctx, 200) };
  },
  execute: (ctx, q: { status: string | null; limit: number; cursor: number | null }) => {
    const all = [...ctx.store.orgs.values()].filter(
      (o) => o.parentOrganizationId === ctx.acting.id && (q.status === null || o.status === q.status),
    );
    return page(all, q, orgJson);
  },
});

const getOrg = route('GET', '/v1/organizations/:orgId', 'org:admin', {
  validate: orgIdParam,
  execute: (ctx, id: string) => {
    const org = child(ctx, id);
    return ok({ ...orgJson(org), summary: orgSummary(ctx.store, org) });
  },
});

const patchOrg = route('PATCH', '/v1/organizations/:orgId', 'org:admin', {
  validate: (ctx) => {
    const id = orgIdParam(ctx);
    const b = bodyObject(ctx.body, ['metadata']);
    return { id, metadata: metadataMap(b.metadata) ?? {} };
  },
  execute: (ctx, input: { id: string; metadata: Record<string, string> }) =>
    ok(orgJson(patchMetadata(ctx.store, child(ctx, input.id), input.metadata))),
});

const archiveOrg = route('DELETE', '/v1/organizations/:orgId', 'org:admin', {
  validate: orgIdNoBody,
  execute: (ctx, id: string) => ok(archive(ctx.store, child(ctx, id))),
});

const suspendResume = (['suspend', 'resume'] as const).map((action) =>
  route('POST', `/v1/organizations/:orgId/${action}`, 'org:admin', {
    validate: orgIdNoBody,
    execute: (ctx, id: string) =>
      ok(orgJson(setStatus(ctx.store, child(ctx, id), action === 'suspend' ? 'suspended' : 'active'))),
  }),
);

export const organizationRoutes = [
  whoami,
  createOrg,
  listOrgs,
  getOrg,
  patchOrg,
  archiveOrg,
  ...suspendResume,
];
