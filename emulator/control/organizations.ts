/** Control routes over organizations and keys: the kill switch, extra keys, extra partners. */
import { ApiError, notFound, validation } from '../errors';
import { created, ok } from '../http-io';
import { BUILTIN_TIERS } from '../ratelimit';
import { createKey } from '../store/api-keys';
import { createParentOrg } from '../store/organizations';
import { checkId, integer, scopesList } from '../validate';
import { bool, optionalOrg, type ControlRoute } from './kit';

export const organizationControlRoutes: ControlRoute[] = [
  {
    method: 'POST',
    pattern: '/_emulator/kill-switch',
    handle: (c) => {
      const { store } = c;
      const b = c.body(['on', 'organizationId', 'keyId', 'apiAccessRevoked']);
      if (b.keyId !== undefined) {
        const keyId = checkId(String(b.keyId), 'key_', 'keyId');
        const key = store.keys.get(keyId);
        if (!key) throw notFound('API key');
        key.suspended = bool(b.on, 'on');
        store.onChange();
        return ok({ keyId, suspended: key.suspended });
      }
      const org = optionalOrg(c, b);
      if (b.on !== undefined) org.killSwitch = bool(b.on, 'on');
      if (b.apiAccessRevoked !== undefined)
        org.apiAccessRevoked = bool(b.apiAccessRevoked, 'apiAccessRevoked');
      if (b.on === undefined && b.apiAccessRevoked === undefined) throw validation('on', 'is required');
      store.onChange();
      return ok({
        organizationId: org.id,
        killSwitch: org.killSwitch,
        apiAccessRevoked: org.apiAccessRevoked,
      });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/keys',
    handle: (c) => {
      const { store } = c;
      const b = c.body(['scopes', 'organizationId', 'tier', 'name']);
      const scopes = scopesList(b.scopes);
      const org = optionalOrg(c, b);
      if (org.status === 'archived') {
        throw new ApiError('CONFLICT', 'The organization is archived.', { reason: 'archived' });
      }
      let tier = store.defaultTier;
      if (b.tier !== undefined) {
        if (typeof b.tier !== 'string' || !(b.tier in BUILTIN_TIERS || b.tier in store.customTiers)) {
          throw validation(
            'tier',
            'must be standard, pilot, partner, unlimited or a custom tier set via /_emulator/rate-limits',
          );
        }
        tier = b.tier;
      }
      const name = typeof b.name === 'string' && b.name.length > 0 ? b.name : 'emulator key';
      const minted = createKey(store, org.id, name, scopes, tier);
      store.onChange();
      return created({
        id: minted.key.id,
        secret: minted.secret,
        organizationId: org.id,
        prefix: minted.key.prefix,
        scopes: [...scopes],
        rateLimitTier: tier,
      });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/parents',
    handle: (c) => {
      const { store } = c;
      const b = c.body(['name', 'credits']);
      const credits = integer(b.credits, 'credits', 0) ?? c.emu.opts.parentCredits;
      const name =
        typeof b.name === 'string' && b.name.length > 0 ? b.name : `Partner ${store.orgs.size + 1}`;
      const made = createParentOrg(store, name, credits);
      store.onChange();
      return created({ organizationId: made.org.id, key: made.secret, apiKeyId: made.key.id });
    },
  },
];
