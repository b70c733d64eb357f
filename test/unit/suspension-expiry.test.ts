import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { recording, runWithMockedWorker, useTimeSkippingEnv } from './time-skipping';
import { suspendWorkflowId } from '../../common/ids';

const DAY = 24 * 60 * 60 * 1000;

const timeSkipping = useTimeSkippingEnv();

test('a pause with `until` a week ahead resumes the org after the skipped week, not before', async () => {
  const env = timeSkipping();
  const { activities, calls } = recording({
    suspendOrganization: async () => ({ status: 'suspended' }),
    resumeOrganization: async () => ({ status: 'active' }),
  });
  const taskQueue = uniqueTaskQueue('unit-suspend');
  const startedAt = await env.currentTimeMs();
  const until = new Date(startedAt + 7 * DAY).toISOString();
  const wallClockStart = Date.now();

  await runWithMockedWorker(env, taskQueue, activities, async () => {
    const handle = await env.client.workflow.start('suspendCustomer', {
      taskQueue,
      workflowId: suspendWorkflowId(`cust-pause-${taskQueue}`, 1),
      args: [{ externalId: `cust-pause-${taskQueue}`, orgId: 'org_pause', reason: 'unpaid invoice', until }],
    });
    await eventually(async () => calls.some((c) => c.name === 'suspendOrganization'));

    await env.sleep(6 * DAY);
    expect(calls.map((c) => c.name)).toEqual(['suspendOrganization']);

    const result = await handle.result(); // the server skips the last day
    expect(result).toMatchObject({ resumed: true, endedBy: 'timer' });
  });

  const resume = calls.find((c) => c.name === 'resumeOrganization');
  expect(resume).toBeDefined();
  expect(resume!.args).toEqual([{ orgId: 'org_pause' }]);
  expect(resume!.scheduledAt).toBeGreaterThanOrEqual(Date.parse(until));
  expect(Date.now() - wallClockStart).toBeLessThan(10_000);
}, 30_000);
