/** Control routes over the emulator as a whole: state, reset, faults, the clock, rate limits, flush. */
import { notFound, validation } from '../errors';
import { FaultPlan } from '../faults';
import { ok } from '../http-io';
import { iso } from '../ids';
import { BUILTIN_TIERS, type TierLimits } from '../ratelimit';
import { snapshot } from '../store/snapshot';
import { checkId, integer, isObject, type Json } from '../validate';
import { bool, type ControlRoute } from './kit';

function tierLimitsInput(v: Json | undefined): TierLimits {
  if (!isObject(v)) throw validation('limits', 'must be an object {read, write, longRunning}');
  const out = {} as TierLimits;
  for (const f of ['read', 'write', 'longRunning'] as const) {
    out[f] = integer(v[f], `limits.${f}`, 0, { required: true }) as number;
  }
  return out;
}

export const stateRoutes: ControlRoute[] = [
  {
    method: 'GET',
    pattern: '/_emulator/state',
    handle: ({ emu, store }) => {
      const parent = store.orgs.get(emu.parentOrganizationId);
      const state = snapshot(store, emu.parentOrganizationId, parent?.killSwitch ?? false);
      return ok({ ...state, faults: emu.faults?.toJson() ?? null });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/reset',
    handle: ({ emu }) => {
      emu.reset();
      return ok({ reset: true, parentOrganizationId: emu.parentOrganizationId, now: iso(emu.store.now()) });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/faults',
    handle: (c) => {
      c.emu.faults = new FaultPlan(c.json());
      return ok(c.emu.faults.toJson());
    },
  },
  {
    method: 'GET',
    pattern: '/_emulator/faults',
    handle: ({ emu }) => ok(emu.faults?.toJson() ?? { seed: null, rules: [], decisions: 0, history: [] }),
  },
  {
    method: 'DELETE',
    pattern: '/_emulator/faults',
    handle: ({ emu }) => {
      emu.faults = null;
      return ok({ cleared: true });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/clock',
    handle: (c) => {
      const b = c.body(['advanceMs', 'freeze']);
      const advance = integer(b.advanceMs, 'advanceMs', 0, { required: b.freeze === undefined }) ?? 0;
      const freeze = b.freeze === undefined ? undefined : bool(b.freeze, 'freeze');
      const { store } = c;
      store.moveClock(advance, freeze);
      store.onChange();
      return ok({
        now: iso(store.now()),
        nowMs: store.now(),
        offsetMs: store.clockOffsetMs,
        frozen: store.frozenAt !== null,
      });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/rate-limits',
    handle: (c) => {
      const { store } = c;
      const b = c.body(['tier', 'limits', 'keyId']);
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
      let keys = [...store.keys.values()];
      if (b.keyId !== undefined) {
        const key = store.keys.get(checkId(String(b.keyId), 'key_', 'keyId'));
        if (!key) throw notFound('API key');
        keys = [key];
      } else {
        store.defaultTier = tier;
      }
      for (const k of keys) k.rateLimitTier = tier;
      c.emu.limiter.reset(keys.map((k) => k.id));
      store.onChange();
      return ok({ tier, limits: store.tierLimits(tier) as unknown as Json, keys: keys.length });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/flush',
    handle: ({ emu }) => {
      emu.persister?.flush();
      return ok({ persisted: emu.persister !== null });
    },
  },
];
