import { ONBOARDING_STEPS, type OnboardingStepName } from '../../common/onboarding-messages';
import { parentWallet, totalCredits } from '../helpers/emulator';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { eventId, fastLifecycle, orgsOf, untilState, walletOf } from './helpers';

const PARENT_CREDITS = 1_000_000;

// The CRM does not wait for onboarding to finish before it pauses or churns a customer. Every Layers
// call is slowed down so each step is still running when the request lands; the documented outcomes:
//  - churn: onboarding stops before its next step, the org (if one was created) is archived, its
//    credits go back to the parent, its key is revoked — nothing is orphaned;
//  - pause: the org is suspended as soon as it exists and provisioning finishes with the parent key,
//    so the customer ends provisioned and suspended.
describe('CRM requests that arrive while onboarding is still running', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    // Each customer gets its own (child-scoped) webhook endpoint, so the firehose step always calls Layers:
    // the partner firehose alone is ensured once per worker and would finish before a request could land.
    env = await startOnboardingTestEnv({
      emulator: { parentCredits: PARENT_CREDITS },
      deps: { resolveHost: async () => [{ address: '203.0.113.10', family: 4 }] },
    });
    await env.control.faults({ seed: 'lifecycle-races', rules: [{ path: '*', latencyMs: [400, 400] }] });
  });
  afterAll(async () => {
    await env?.control.clearFaults();
    await env?.close();
  });

  /** Starts onboarding and sends `send` while `step` is the step in flight; returns the step it landed in. */
  async function duringStep(step: OnboardingStepName, send: (externalId: string) => Promise<void>) {
    const request = {
      ...acmeCoffee(`race-${step}-${Math.random().toString(36).slice(2, 8)}`),
      firehose: { url: 'https://hooks.race-customer.example/layers', events: ['post.published' as const] },
    };
    const externalId = request.customer.externalId;
    await env.crm.start(request, { timing: fastTiming, lifecycle: fastLifecycle });
    const landed = await eventually(
      async () => {
        const status = await env.crm.status(externalId);
        const running = status.steps.find((s) => s.state === 'running');
        return running?.name === step ? running.name : undefined;
      },
      { intervalMs: 25 },
    );
    await send(externalId);
    return { externalId, landed };
  }

  test('churn during each onboarding step: archived, nothing orphaned, credits conserved', async () => {
    const before = await env.control.state();
    const outcomes = await env.run(() =>
      Promise.all(
        ONBOARDING_STEPS.map(async (step) => {
          const { externalId, landed } = await duringStep(step, (id) =>
            env.crm.churn(id, { reason: 'changed their mind', eventId: eventId() }),
          );
          const final = await env.crm.customerResult(externalId);
          return { step, landed, externalId, final };
        }),
      ),
    );
    const after = await env.control.state();
    for (const { step, landed, externalId, final } of outcomes) {
      expect({ step, landed }).toEqual({ step, landed: step });
      expect({ step, state: final.state }).toEqual({ step, state: 'archived' });
      const orgs = orgsOf(after, externalId);
      if (step === 'preflight') {
        // Stopped before the org was created: nothing to archive.
        expect(orgs).toEqual([]);
        expect(final.orgId).toBeUndefined();
        continue;
      }
      expect({ step, orgs: orgs.map((o) => [o.id, o.status]) }).toEqual({
        step,
        orgs: [[final.orgId, 'archived']],
      });
      expect(walletOf(after, final.orgId!)).toMatchObject({ balance: 0, reserved: 0 });
      expect(after.apiKeys.filter((k) => k.organizationId === final.orgId && k.status !== 'revoked')).toEqual(
        [],
      );
    }
    expect(parentWallet(after).balance).toBe(parentWallet(before).balance);
    expect(totalCredits(after)).toBe(totalCredits(before));
  });

  test('pause during each onboarding step: provisioning finishes and the customer ends suspended', async () => {
    const before = await env.control.state();
    const outcomes = await env.run(() =>
      Promise.all(
        ONBOARDING_STEPS.map(async (step) => {
          const { externalId, landed } = await duringStep(step, (id) =>
            env.crm.pause(id, { reason: 'invoice overdue', eventId: eventId() }),
          );
          const onboarding = await env.crm.result(externalId);
          const status = await untilState(env, externalId, 'suspended');
          return { step, landed, externalId, onboarding, status };
        }),
      ),
    );
    const after = await env.control.state();
    for (const { step, landed, externalId, onboarding, status } of outcomes) {
      expect({ step, landed }).toEqual({ step, landed: step });
      expect(onboarding.verified).toBe(true);
      expect(status).toMatchObject({ orgId: onboarding.orgId, orgSuspended: true });
      expect(orgsOf(after, externalId).map((o) => [o.id, o.status])).toEqual([
        [onboarding.orgId, 'suspended'],
      ]);
      expect(walletOf(after, onboarding.orgId).balance).toBe(5000);
      expect(after.apiKeys.filter((k) => k.organizationId === onboarding.orgId).map((k) => k.status)).toEqual(
        ['active'],
      );
      expect(after.projects.filter((p) => p.organizationId === onboarding.orgId)).toHaveLength(1);
    }
    expect(parentWallet(after).balance).toBe(parentWallet(before).balance - 5000 * ONBOARDING_STEPS.length);
    expect(totalCredits(after)).toBe(totalCredits(before));
  });

  test('requests sent during a step are applied in arrival order once it settles', async () => {
    const runs = await env.run(() =>
      Promise.all([
        // pause then resume: ends active, the pause left one suspension behind it (or none, if it never got an org).
        duringStep('create-org', async (id) => {
          await env.crm.pause(id, { reason: 'hold', eventId: eventId() });
          await env.crm.resume(id, { reason: 'released', eventId: eventId() });
        }).then(async ({ externalId }) => ({
          externalId,
          expected: 'active' as const,
          status: await settle(externalId, 'active'),
        })),
        // resume then pause: ends suspended.
        duringStep('mint-key', async (id) => {
          await env.crm.resume(id, { reason: 'nothing to resume', eventId: eventId() });
          await env.crm.pause(id, { reason: 'hold', eventId: eventId() });
        }).then(async ({ externalId }) => ({
          externalId,
          expected: 'suspended' as const,
          status: await settle(externalId, 'suspended'),
        })),
        // pause then churn: the churn wins and the org is archived.
        duringStep('allocate-credits', async (id) => {
          await env.crm.pause(id, { reason: 'hold', eventId: eventId() });
          await env.crm.churn(id, { reason: 'gone', eventId: eventId() });
        }).then(async ({ externalId }) => ({
          externalId,
          expected: 'archived' as const,
          status: await env.crm.customerResult(externalId),
        })),
      ]),
    );
    const state = await env.control.state();
    for (const { externalId, expected, status } of runs) {
      expect({ externalId, state: status.state }).toEqual({ externalId, state: expected });
      const orgStatus = { active: 'active', suspended: 'suspended', archived: 'archived' }[expected];
      expect(orgsOf(state, externalId).map((o) => o.status)).toEqual([orgStatus]);
    }
  });

  async function settle(externalId: string, state: 'active' | 'suspended') {
    await env.crm.result(externalId);
    return untilState(env, externalId, state);
  }
});
