import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { recording, runWithMockedWorker, useTimeSkippingEnv } from './time-skipping';
import { offboardingWorkflowId } from '../../common/ids';

const DAY = 24 * 60 * 60 * 1000;

const timeSkipping = useTimeSkippingEnv();

test('a churn with `effectiveAt` a month ahead archives the org after the skipped month, not before', async () => {
  const env = timeSkipping();
  const { activities, calls } = recording({
    deleteCustomerWebhooks: async () => ({ deleted: [] }),
    archiveOrganization: async () => ({
      archivedAt: new Date().toISOString(),
      reclaimedCredits: 1200,
      revokedApiKeys: 1,
      alreadyArchived: false,
    }),
  });
  const taskQueue = uniqueTaskQueue('unit-offboard');
  const startedAt = await env.currentTimeMs();
  const effectiveAt = new Date(startedAt + 30 * DAY).toISOString();
  const wallClockStart = Date.now();

  await runWithMockedWorker(env, taskQueue, activities, async () => {
    const handle = await env.client.workflow.start('offboardCustomer', {
      taskQueue,
      workflowId: offboardingWorkflowId(`cust-churn-${taskQueue}`),
      args: [
        { externalId: `cust-churn-${taskQueue}`, orgId: 'org_churn', reason: 'contract ended', effectiveAt },
      ],
    });
    await eventually(async () =>
      (await handle.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes),
    );
    await env.sleep(29 * DAY);
    expect(calls).toEqual([]);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const outcome = await handle.result(); // the server skips the last day
    expect(outcome).toMatchObject({ cancelled: false, alreadyArchived: false, reclaimedCredits: 1200 });
  });

  expect(calls.map((c) => c.name)).toEqual(['deleteCustomerWebhooks', 'archiveOrganization']);
  for (const call of calls) {
    expect(call.args).toEqual([{ orgId: 'org_churn' }]);
    expect(call.scheduledAt).toBeGreaterThanOrEqual(Date.parse(effectiveAt));
  }
  expect(Date.now() - wallClockStart).toBeLessThan(10_000);
}, 30_000);

test('a reactivate before `effectiveAt` cancels the dated offboarding: nothing is archived', async () => {
  const env = timeSkipping();
  const { activities, calls } = recording({
    deleteCustomerWebhooks: async () => ({ deleted: [] }),
    archiveOrganization: async () => {
      throw new Error('must not archive a reactivated customer');
    },
  });
  const taskQueue = uniqueTaskQueue('unit-offboard');
  const effectiveAt = new Date((await env.currentTimeMs()) + 30 * DAY).toISOString();

  await runWithMockedWorker(env, taskQueue, activities, async () => {
    const handle = await env.client.workflow.start('offboardCustomer', {
      taskQueue,
      workflowId: offboardingWorkflowId(`cust-back-${taskQueue}`),
      args: [
        { externalId: `cust-back-${taskQueue}`, orgId: 'org_back', reason: 'contract ended', effectiveAt },
      ],
    });
    await env.sleep(10 * DAY);
    await handle.signal('reactivate', { reason: 'renewed', eventId: 'evt-renewed' });
    expect(await handle.result()).toEqual({ cancelled: true, reason: 'renewed' });
  });
  expect(calls).toEqual([]);
}, 30_000);
