import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import {
  customerInLayers,
  DAY_AND_AN_HOUR_MS,
  firstRunFailsAfterMoneyMoved,
  forgetInTemporal,
} from './helpers';

// Issue 11, items 1 and 6: a customer whose onboarding failed after the money moved is started again
// when Layers has forgotten the idempotency keys (or is about to). Layers' ledger and key list, not the
// window, must decide: one org, one transfer, one live key, one project.
describe('exactly once across a restart more than a day later', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  function expectExactlyOnce(
    externalId: string,
    result: { orgId: string; transferId: string; apiKey: { id: string } },
  ) {
    return async () => {
      const mine = customerInLayers(await env.control.state(), externalId);
      expect(mine.orgs.map((o) => o.id)).toEqual([result.orgId]);
      expect(mine.allocations).toHaveLength(1);
      expect(mine.allocations[0]!.id).toBe(result.transferId);
      expect(mine.childLedger).toHaveLength(1);
      expect(mine.parentLedger).toHaveLength(1);
      expect(mine.liveKeys.map((k) => k.id)).toEqual([result.apiKey.id]);
      expect(mine.projects).toHaveLength(1);
    };
  }

  test('failed after allocating, started again 25 h later: one org, one transfer, one live key, one project', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      await firstRunFailsAfterMoneyMoved(env, request);
      const before = customerInLayers(await env.control.state(), externalId);
      expect(before.allocations).toHaveLength(1);
      await env.control.advanceClock(DAY_AND_AN_HOUR_MS);
      await env.crm.start(request, { timing: { retryMaxIntervalMs: 1000 } });
      const result = await env.crm.result(externalId);
      expect(result.verified).toBe(true);
      await expectExactlyOnce(externalId, result)();
      expect(result.orgId).toBe(before.orgs[0]!.id);
      expect(result.transferId).toBe(before.allocations[0]!.id);
    });
  });

  test('the earlier run is gone from Temporal, started again 25 h later: still exactly once', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      await firstRunFailsAfterMoneyMoved(env, request);
      await forgetInTemporal(env, externalId);
      await env.control.advanceClock(DAY_AND_AN_HOUR_MS);
      await env.crm.start(request, { timing: { retryMaxIntervalMs: 1000 } });
      const result = await env.crm.result(externalId);
      await expectExactlyOnce(externalId, result)();
    });
  });

  test('hour 23–24 (keys not provably young, still remembered) with a rotated-away key in its grace period: the live key is kept', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      await firstRunFailsAfterMoneyMoved(env, request);
      const first = customerInLayers(await env.control.state(), externalId);
      // An operator rotated the key meanwhile: the old one stays `active` through its 24 h grace period.
      const rotated = await env.layers.rotateApiKey(first.orgs[0]!.id, first.liveKeys[0]!.id);
      await env.crm.start(request, {
        timing: { retryMaxIntervalMs: 1000 },
        firstIssuedAt: Date.now() - 23.5 * 60 * 60 * 1000,
      });
      const result = await env.crm.result(externalId);
      expect(result.apiKey.id).toBe(rotated.apiKey.id);
      await expectExactlyOnce(externalId, result)();
    });
  });
});
