import { parentWallet, totalCredits } from '../helpers/emulator';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { asCustomer, eventId, isoIn, onboarded, orgsOf, untilState, walletOf } from './helpers';
import { offboardingWorkflowId, suspendWorkflowId } from '../../common/ids';

// Each transition of the customer state machine, checked where it matters: in Layers (the emulator's
// state) and in what the customer workflow reports.
describe('customer lifecycle: pause, resume and churn from the CRM', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  test('pause suspends the org, resume restores it, churn archives it: keys revoked, credits back with the parent', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);
      const before = await env.control.state();
      expect(await asCustomer(env, result)).toBe('ok');

      const paused = await env.crm.pauseAndWait(externalId, { reason: 'support hold', eventId: eventId() });
      expect(paused).toMatchObject({ state: 'suspended', orgId: result.orgId, orgSuspended: true });
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');
      expect(await asCustomer(env, result)).toBe('KILL_SWITCH');
      const suspension = env.temporal.client.workflow.getHandle(suspendWorkflowId(externalId, 1));
      expect((await suspension.describe()).type).toBe('suspendCustomer');

      const resumed = await env.crm.resumeAndWait(externalId, { reason: 'paid', eventId: eventId() });
      expect(resumed).toMatchObject({ state: 'active', orgSuspended: false });
      expect(await suspension.result()).toMatchObject({ resumed: true, endedBy: 'resume' });
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');
      expect(await asCustomer(env, result)).toBe('ok');

      const churning = await env.crm.churnAndWait(externalId, {
        reason: 'cancelled the contract',
        eventId: eventId(),
      });
      expect(['offboarding', 'archived']).toContain(churning.state);
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(final.offboarding).toMatchObject({ reclaimedCredits: 5000, revokedApiKeys: 1 });
      expect(final.transitions.map((t) => `${t.from}→${t.to}`)).toEqual([
        'new→onboarding',
        'onboarding→active',
        'active→suspended',
        'suspended→active',
        'active→offboarding',
        'offboarding→archived',
      ]);
      const offboarding = await env.temporal.client.workflow
        .getHandle(offboardingWorkflowId(externalId))
        .describe();
      expect(offboarding.type).toBe('offboardCustomer');

      const after = await env.control.state();
      const [org] = orgsOf(after, externalId);
      expect(org.status).toBe('archived');
      expect(after.apiKeys.filter((k) => k.organizationId === org.id).map((k) => k.status)).toEqual([
        'revoked',
      ]);
      expect(await asCustomer(env, result)).toBe('UNAUTHENTICATED');
      expect(walletOf(after, org.id).balance).toBe(0);
      expect(parentWallet(after).balance).toBe(parentWallet(before).balance + 5000);
      const reclaims = after.transfers.filter(
        (t) => t.fromOrganizationId === org.id && t.trigger === 'reclaim',
      );
      expect(reclaims).toEqual([
        expect.objectContaining({ toOrganizationId: after.parentOrganizationId, credits: 5000 }),
      ]);
      // The reclaim shows on both ledgers with its transferId.
      const transferIds = after.ledger
        .filter((e) => e.metadata?.transferId === reclaims[0].id)
        .map((e) => e.organizationId);
      expect(transferIds.sort()).toEqual([after.parentOrganizationId, org.id].sort());
      expect(totalCredits(after)).toBe(totalCredits(before));
    });
  });

  test('pause with until resumes by itself; an explicit resume cancels the timer', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);

      await env.crm.pauseAndWait(externalId, {
        reason: 'trial pause',
        until: isoIn(2_000),
        eventId: eventId(),
      });
      expect((await env.crm.customerStatus(externalId)).pausedUntil).toBeDefined();
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');
      const timed = await env.temporal.client.workflow.getHandle(suspendWorkflowId(externalId, 1)).result();
      expect(timed).toMatchObject({ resumed: true, endedBy: 'timer' });
      const active = await untilState(env, externalId, 'active');
      expect(active.pausedUntil).toBeUndefined();
      expect(active.transitions.at(-1)!.reason).toBe('resumed: pause expired');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');
      expect(await asCustomer(env, result)).toBe('ok');

      // An hour-long pause lifted after moments: the suspension ends by the resume, not by its timer.
      await env.crm.pauseAndWait(externalId, { reason: 'hold', until: isoIn(3_600_000), eventId: eventId() });
      const second = env.temporal.client.workflow.getHandle(suspendWorkflowId(externalId, 2));
      await env.crm.resumeAndWait(externalId, { reason: 'paid early', eventId: eventId() });
      expect(await second.result()).toMatchObject({ resumed: true, endedBy: 'resume' });
      const description = await second.describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(description.closeTime!.getTime() - description.startTime.getTime()).toBeLessThan(3_600_000);
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');
    });
  });

  test('churn with effectiveAt waits and reactivate cancels it; a later churn archives when its time comes', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);

      const scheduled = await env.crm.churnAndWait(externalId, {
        reason: 'non-renewal',
        effectiveAt: isoIn(3_600_000),
        eventId: eventId(),
      });
      expect(scheduled).toMatchObject({ state: 'offboarding' });
      expect(scheduled.offboardingAt).toBeDefined();
      const offboarding = env.temporal.client.workflow.getHandle(offboardingWorkflowId(externalId));
      expect((await offboarding.describe()).status.name).toBe('RUNNING');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');

      await env.crm.reactivate(externalId, { reason: 'renewed after all', eventId: eventId() });
      expect(await offboarding.result()).toMatchObject({ cancelled: true, reason: 'renewed after all' });
      expect((await offboarding.describe()).searchAttributes.LayersLifecycleState).toBeUndefined();
      const active = await untilState(env, externalId, 'active');
      expect(active.offboardingAt).toBeUndefined();
      expect(active.transitions.at(-1)!.reason).toBe('reactivated: renewed after all');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');

      // The offboarding id is free again once the cancelled one closed.
      await env.crm.churn(externalId, {
        reason: 'left for good',
        effectiveAt: isoIn(1_500),
        eventId: eventId(),
      });
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('archived');
    });
  });

  test('churn with drain suspends, waits for reserved credits to settle, then reclaims exactly the unspent balance', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);
      const orgId = result.orgId;
      await env.control.usage(orgId, 'reserve', 700);
      const parentBefore = parentWallet(await env.control.state()).balance;

      const draining = await env.crm.churnAndWait(externalId, {
        reason: 'churned',
        drain: true,
        eventId: eventId(),
      });
      expect(draining.state).toBe('offboarding');
      // Suspended first, so no new work starts; not archived while 700 credits are still reserved.
      await eventually(async () => orgsOf(await env.control.state(), externalId)[0].status === 'suspended');
      const readsBefore =
        (await env.control.state()).requests.byRoute['GET /v1/organizations/:orgId/credits']?.['200'] ?? 0;
      await eventually(async () => {
        const reads =
          (await env.control.state()).requests.byRoute['GET /v1/organizations/:orgId/credits']?.['200'] ?? 0;
        return reads >= readsBefore + 2; // it polled at least twice more and still did not archive
      });
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');

      await env.control.usage(orgId, 'settle', 300);
      await env.control.usage(orgId, 'release', 400);
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(final.offboarding!.reclaimedCredits).toBe(5000 - 300);

      const after = await env.control.state();
      expect(walletOf(after, orgId)).toMatchObject({ balance: 0, reserved: 0 });
      expect(parentWallet(after).balance).toBe(parentBefore + 4700);
      const outcome = await env.temporal.client.workflow
        .getHandle(offboardingWorkflowId(externalId))
        .result();
      expect(outcome).toMatchObject({ cancelled: false, drained: true, reclaimedCredits: 4700 });
    });
  });

  test('pausing a suspended customer and resuming an active one change nothing', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      const calls = async () => {
        const byRoute = (await env.control.state()).requests.byRoute;
        return (
          (byRoute['POST /v1/organizations/:orgId/suspend']?.['200'] ?? 0) +
          (byRoute['POST /v1/organizations/:orgId/resume']?.['200'] ?? 0)
        );
      };
      const start = await calls();
      expect(
        await env.crm.resumeAndWait(externalId, { reason: 'already fine', eventId: eventId() }),
      ).toMatchObject({ state: 'active' });
      await env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() });
      const status = await env.crm.pauseAndWait(externalId, { reason: 'hold again', eventId: eventId() });
      expect(status.state).toBe('suspended');
      expect(status.transitions.filter((t) => t.to === 'suspended')).toHaveLength(1);
      expect(await calls()).toBe(start + 1);
      await expect(
        env.temporal.client.workflow.getHandle(suspendWorkflowId(externalId, 2)).describe(),
      ).rejects.toThrow();
    });
  });
});
