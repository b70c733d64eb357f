import { randomUUID } from 'node:crypto';
import { onboardCustomer } from '../../workflows/onboarding';
import { onboardingWorkflowId } from '../../common/ids';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { customerInLayers, DAY_AND_AN_HOUR_MS, failAtCreditConfig } from './helpers';

// Issue 11, item 1 (reset): an operator resets a failed onboarding to just after create-org more than a
// day later. The reset run sends mint-key's and allocate's keys again, which Layers has forgotten: it
// must find the key and the transfer on Layers instead of making a second of each.
describe('workflow reset past 24 h', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  test('reset to after create-org, 25 h later: one key, one transfer', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const workflowId = onboardingWorkflowId(externalId);
    await env.run(async () => {
      await failAtCreditConfig(env);
      const handle = await env.temporal.client.workflow.start(onboardCustomer, {
        workflowId,
        taskQueue: env.taskQueue,
        args: [request, { timing: { retryMaxIntervalMs: 1000 } }],
      });
      await expect(handle.result()).rejects.toThrow();
      await env.control.clearFaults();
      const before = customerInLayers(await env.control.state(), externalId);
      expect(before.allocations).toHaveLength(1);

      const { events } = await handle.fetchHistory();
      const created = events!.findIndex(
        (e) =>
          e.activityTaskCompletedEventAttributes &&
          events!.some(
            (s) =>
              s.eventId?.toString() ===
                e.activityTaskCompletedEventAttributes!.scheduledEventId?.toString() &&
              s.activityTaskScheduledEventAttributes?.activityType?.name === 'createChildOrganization',
          ),
      );
      const resetPoint = events!.slice(created).find((e) => e.workflowTaskCompletedEventAttributes)!;
      await env.control.advanceClock(DAY_AND_AN_HOUR_MS);
      const { runId } = await env.temporal.connection.workflowService.resetWorkflowExecution({
        namespace: env.temporal.namespace,
        workflowExecution: { workflowId },
        workflowTaskFinishEventId: resetPoint.eventId,
        requestId: randomUUID(),
        reason: 'test: reset past the idempotency window',
      });
      const result = await env.temporal.client.workflow.getHandle(workflowId, runId!).result();
      const after = customerInLayers(await env.control.state(), externalId);
      expect(after.orgs).toHaveLength(1);
      expect(after.allocations).toHaveLength(1);
      expect(after.childLedger).toHaveLength(1);
      expect(after.parentLedger).toHaveLength(1);
      expect(after.liveKeys.map((k) => k.id)).toEqual([result.apiKey.id]);
      expect(after.keys).toHaveLength(1);
      expect(after.projects).toHaveLength(1);
    });
  });
});
