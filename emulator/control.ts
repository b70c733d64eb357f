/**
 * The control API under /_emulator/ — not part of the Layers API. No authentication, no rate limits,
 * no faults, not counted in `requests`. Only served at the root: /v1/_emulator/... is a plain 404.
 */
import type http from 'node:http';
import { ApiError, notFound, validation } from './errors';
import { FaultPlan } from './faults';
import { iso } from './ids';
import type { Emulator } from './server';
import { BUILTIN_TIERS, Store, type TierLimits } from './store';
import {
  WEBHOOK_EVENT_TYPES,
  bodyObject,
  checkId,
  integer,
  isObject,
  scopesList,
  type Json,
  type JsonObject,
} from './validate';

function parse(raw: Buffer | ApiError): Json | undefined {
  if (raw instanceof ApiError) throw raw;
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as Json;
  } catch {
    throw validation('body', 'is not valid JSON', { reason: 'invalid_json' });
  }
}

function bool(v: Json | undefined, field: string): boolean {
  if (typeof v !== 'boolean') throw validation(field, 'must be a boolean');
  return v;
}

function optionalOrgId(emu: Emulator, b: JsonObject): string {
  if (b.organizationId === undefined || b.organizationId === null) return emu.parentOrganizationId;
  if (typeof b.organizationId !== 'string') throw validation('organizationId', 'must be an org id');
  const id = checkId(b.organizationId, 'org_', 'organizationId');
  if (!emu.store.orgs.has(id)) throw notFound('Organization');
  return id;
}

function tierLimitsInput(v: Json | undefined): TierLimits {
  if (!isObject(v)) throw validation('limits', 'must be an object {read, write, longRunning}');
  const out = {} as TierLimits;
  for (const f of ['read', 'write', 'longRunning'] as const) {
    out[f] = integer(v[f], `limits.${f}`, 0, { required: true }) as number;
  }
  return out;
}

export async function handleControl(
  emu: Emulator,
  _req: http.IncomingMessage,
  res: http.ServerResponse,
  requestId: string,
  method: string,
  path: string,
  _query: string,
  raw: Buffer | ApiError,
): Promise<void> {
  const ok = (body: Json, status = 200): void => emu.send(res, status, body);
  try {
    const store = emu.store;
    const route = `${method} ${path}`;
    const usage = /^\/_emulator\/organizations\/([^/]+)\/usage$/.exec(path);
    if (route === 'GET /_emulator/state') {
      const parent = store.orgs.get(emu.parentOrganizationId);
      ok({
        ...store.snapshot(emu.parentOrganizationId, parent?.killSwitch ?? false),
        faults: emu.faults?.toJson() ?? null,
      });
      return;
    }
    if (route === 'POST /_emulator/reset') {
      emu.reset();
      ok({ reset: true, parentOrganizationId: emu.parentOrganizationId, now: iso(emu.store.now()) });
      return;
    }
    if (route === 'POST /_emulator/faults') {
      emu.faults = new FaultPlan(parse(raw));
      ok(emu.faults.toJson());
      return;
    }
    if (route === 'GET /_emulator/faults') {
      ok(emu.faults?.toJson() ?? { seed: null, rules: [], decisions: 0, history: [] });
      return;
    }
    if (route === 'DELETE /_emulator/faults') {
      emu.faults = null;
      ok({ cleared: true });
      return;
    }
    if (route === 'POST /_emulator/clock') {
      const b = bodyObject(parse(raw), ['advanceMs', 'freeze']);
      const advance =
        (integer(b.advanceMs, 'advanceMs', 0, { required: b.freeze === undefined }) as number | undefined) ??
        0;
      const freeze = b.freeze === undefined ? undefined : bool(b.freeze, 'freeze');
      store.moveClock(advance, freeze);
      store.onChange();
      ok({
        now: iso(store.now()),
        nowMs: store.now(),
        offsetMs: store.clockOffsetMs,
        frozen: store.frozenAt !== null,
      });
      return;
    }
    if (route === 'POST /_emulator/parent/credits') {
      const b = bodyObject(parse(raw), ['credits', 'organizationId']);
      const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
      const orgId = optionalOrgId(emu, b);
      const org = store.orgs.get(orgId);
      if (!org || org.parentOrganizationId !== null) {
        throw validation('organizationId', 'must be a parent (partner) organization');
      }
      const ev = store.mint(orgId, credits, 'Partner credit purchase');
      store.onChange();
      const w = store.wallet(orgId);
      ok({
        organizationId: orgId,
        credits,
        balance: w.balance,
        available: Store.available(w),
        eventId: ev.eventId,
      });
      return;
    }
    if (route === 'POST /_emulator/kill-switch') {
      const b = bodyObject(parse(raw), ['on', 'organizationId', 'keyId', 'apiAccessRevoked']);
      if (b.keyId !== undefined) {
        const keyId = checkId(String(b.keyId), 'key_', 'keyId');
        const key = store.keys.get(keyId);
        if (!key) throw notFound('API key');
        key.suspended = bool(b.on, 'on');
        store.onChange();
        ok({ keyId, suspended: key.suspended });
        return;
      }
      const org = store.orgs.get(optionalOrgId(emu, b)) as NonNullable<ReturnType<typeof store.orgs.get>>;
      if (b.on !== undefined) org.killSwitch = bool(b.on, 'on');
      if (b.apiAccessRevoked !== undefined)
        org.apiAccessRevoked = bool(b.apiAccessRevoked, 'apiAccessRevoked');
      if (b.on === undefined && b.apiAccessRevoked === undefined) throw validation('on', 'is required');
      store.onChange();
      ok({ organizationId: org.id, killSwitch: org.killSwitch, apiAccessRevoked: org.apiAccessRevoked });
      return;
    }
    if (usage && method === 'POST') {
      const orgId = checkId(decodeURIComponent(usage[1]), 'org_', 'orgId');
      const org = store.orgs.get(orgId);
      if (!org) throw notFound('Organization');
      const b = bodyObject(parse(raw), ['action', 'credits', 'projectId']);
      if (b.action !== 'reserve' && b.action !== 'settle' && b.action !== 'release') {
        throw validation('action', 'must be reserve, settle or release');
      }
      const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
      let projectId: string | null = null;
      if (b.projectId !== undefined && b.projectId !== null) {
        projectId = checkId(String(b.projectId), 'prj_', 'projectId');
        const p = store.projects.get(projectId);
        if (!p || p.organizationId !== org.id) throw notFound('Project');
      }
      try {
        ok(store.usage(org, b.action, credits, projectId) as unknown as Json);
      } finally {
        store.onChange();
      }
      return;
    }
    if (route === 'POST /_emulator/keys') {
      const b = bodyObject(parse(raw), ['scopes', 'organizationId', 'tier', 'name']);
      const scopes = scopesList(b.scopes);
      const orgId = optionalOrgId(emu, b);
      const org = store.orgs.get(orgId);
      if (org?.status === 'archived')
        throw new ApiError('CONFLICT', 'The organization is archived.', { reason: 'archived' });
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
      const minted = store.createKey(orgId, name, scopes, tier);
      store.onChange();
      ok(
        {
          id: minted.key.id,
          secret: minted.secret,
          organizationId: orgId,
          prefix: minted.key.prefix,
          scopes: [...scopes],
          rateLimitTier: tier,
        },
        201,
      );
      return;
    }
    if (route === 'POST /_emulator/parents') {
      const b = bodyObject(parse(raw), ['name', 'credits']);
      const credits = (integer(b.credits, 'credits', 0) as number | undefined) ?? emu.opts.parentCredits;
      const name =
        typeof b.name === 'string' && b.name.length > 0 ? b.name : `Partner ${store.orgs.size + 1}`;
      const created = store.createParentOrg(name, credits);
      store.onChange();
      ok({ organizationId: created.org.id, key: created.secret, apiKeyId: created.key.id }, 201);
      return;
    }
    if (route === 'POST /_emulator/rate-limits') {
      const b = bodyObject(parse(raw), ['tier', 'limits', 'keyId']);
      if (typeof b.tier !== 'string' || b.tier.length === 0 || b.tier.length > 64) {
        throw validation('tier', 'must be a tier name');
      }
      const tier = b.tier;
      if (b.limits !== undefined && b.limits !== null) {
        if (tier === 'unlimited') throw validation('limits', 'cannot be set on the unlimited tier');
        store.customTiers[tier] = tierLimitsInput(b.limits);
      } else if (!(tier in BUILTIN_TIERS) && !(tier in store.customTiers)) {
        throw validation('limits', `are required for the custom tier ${tier}`);
      }
      const affected: string[] = [];
      if (b.keyId !== undefined) {
        const key = store.keys.get(checkId(String(b.keyId), 'key_', 'keyId'));
        if (!key) throw notFound('API key');
        key.rateLimitTier = tier;
        affected.push(key.id);
      } else {
        store.defaultTier = tier;
        for (const k of store.keys.values()) {
          k.rateLimitTier = tier;
          affected.push(k.id);
        }
      }
      emu.limiter.reset(affected);
      store.onChange();
      ok({ tier, limits: store.tierLimits(tier) as unknown as Json, keys: affected.length });
      return;
    }
    if (route === 'POST /_emulator/webhooks/emit') {
      const b = bodyObject(parse(raw), ['organizationId', 'type', 'data']);
      const orgId = optionalOrgId(emu, b);
      if (typeof b.type !== 'string' || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(b.type)) {
        throw validation('type', `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
      }
      const data = b.data === undefined ? {} : b.data;
      if (!isObject(data)) throw validation('data', 'must be an object');
      const before = store.deliveries.size;
      const eventId = store.emit(b.type, orgId, data);
      store.onChange();
      ok({ eventId, deliveries: store.deliveries.size - before });
      return;
    }
    if (route === 'POST /_emulator/flush') {
      emu.persister?.flush();
      ok({ persisted: emu.persister !== null });
      return;
    }
    throw notFound('Control route');
  } catch (e) {
    const err =
      e instanceof ApiError ? e : new ApiError('PLATFORM_ERROR', e instanceof Error ? e.message : String(e));
    emu.send(res, err.status, err.body(requestId) as unknown as Json, err.headers);
  }
}
