/**
 * Child API keys (002 "Issue an API key", CONTRACT.md "Child API keys"): mint (scopes a subset of the
 * caller's, org:admin never delegable), list without secrets, rotate with a 24 h grace, revoke.
 */
import { archivedConflict, forbiddenScope, notFound, validation } from '../errors';
import { API_KEY_WARNING, createKey, keyJson, revokeKey, rotateKey, type ApiKeyRec } from '../store/api-keys';
import type { Org } from '../store/organizations';
import { bodyObject, checkId, emptyBody, requiredString, scopesList, type Scope } from '../validate';
import { child, created, ok, orgIdParam, page, pageQuery, route, type RequestCtx } from './kit';

interface KeyPath {
  id: string;
  keyId: string;
}

const keyPath = (ctx: RequestCtx): KeyPath => {
  emptyBody(ctx.body);
  return { id: orgIdParam(ctx), keyId: checkId(ctx.params.keyId, 'key_', 'keyId') };
};

/** The child named in the path and one of its keys, or 404 (a key of another org is not found either). */
function childKey(ctx: RequestCtx, input: KeyPath): { org: Org; key: ApiKeyRec } {
  const org = child(ctx, input.id);
  const key = ctx.store.keys.get(input.keyId);
  if (!key || key.organizationId !== org.id) throw notFound('API key');
  return { org, key };
}

/** 403 before execution (never stored): org:admin is not delegable, and scopes must be a subset of the caller's. */
function delegableScopes(ctx: RequestCtx, scopes: Scope[]): Scope[] {
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
  return scopes;
}

const mint = route('POST', '/v1/organizations/:orgId/api-keys', 'org:admin', {
  validate: (ctx) => {
    const id = orgIdParam(ctx);
    const b = bodyObject(ctx.body, ['name', 'scopes', 'env']);
    const name = requiredString(b, 'name', 1, 120);
    const scopes = scopesList(b.scopes);
    if (b.env !== undefined && b.env !== 'live') throw validation('env', 'must be "live"');
    return { id, name, scopes: delegableScopes(ctx, scopes) };
  },
  execute: (ctx, input: { id: string; name: string; scopes: Scope[] }) => {
    const org = child(ctx, input.id);
    if (org.status === 'archived') throw archivedConflict(org.id);
    const minted = createKey(ctx.store, org.id, input.name, input.scopes, ctx.key.rateLimitTier);
    return created({
      apiKey: keyJson(ctx.store, minted.key),
      secret: minted.secret,
      warning: API_KEY_WARNING,
    });
  },
});

const list = route('GET', '/v1/organizations/:orgId/api-keys', 'org:admin', {
  validate: (ctx) => ({ id: orgIdParam(ctx), ...pageQuery(ctx, 100) }),
  execute: (ctx, q: { id: string; limit: number; cursor: number | null }) => {
    const org = child(ctx, q.id);
    const all = [...ctx.store.keys.values()].filter((k) => k.organizationId === org.id);
    return page(all, q, (k) => keyJson(ctx.store, k));
  },
});

const rotate = route('POST', '/v1/organizations/:orgId/api-keys/:keyId/rotate', 'org:admin', {
  validate: keyPath,
  execute: (ctx, input: KeyPath) => {
    const { org, key } = childKey(ctx, input);
    const r = rotateKey(ctx.store, org, key);
    return ok({
      apiKey: keyJson(ctx.store, r.newKey),
      secret: r.secret,
      warning: API_KEY_WARNING,
      previousApiKey: keyJson(ctx.store, r.oldKey),
    });
  },
});

const revoke = route('DELETE', '/v1/organizations/:orgId/api-keys/:keyId', 'org:admin', {
  validate: keyPath,
  execute: (ctx, input: KeyPath) => {
    const { key } = childKey(ctx, input);
    return ok({ apiKey: keyJson(ctx.store, revokeKey(ctx.store, key)), deleted: true });
  },
});

export const apiKeyRoutes = [mint, list, rotate, revoke];
