import { onboardCustomer } from '../../workflows/onboarding';
import { onboardingWorkflowId } from '../../common/ids';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { customerInLayers, requestsTo } from './helpers';

const LIST_ORGS = 'GET /v1/organizations';
const CHILDREN = 450;

// Issue 11, item 8: looking a customer's org up among thousands of children, 25 at a time inside one
// 30 s attempt without heartbeats, never finishes on a slow Layers. Pages of 200 with heartbeats do,
// and a worker's index of children makes every later look-up cost one page.
describe('child look-ups with many children on a slow Layers', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000, tier: 'unlimited' } });
    for (let i = 0; i < CHILDREN; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CHILDREN - i) }, (_, j) =>
          env.layers.createOrganization({
            name: `Other ${i + j}`,
            metadata: { externalId: `other-${i + j}` },
          }),
        ),
      );
    }
  });
  afterAll(async () => env?.close());

  test('a re-run that must look finishes within a 2 s attempt while every list page takes 150 ms; the next look-up reads one page', async () => {
    await env.control.faults({
      seed: 8,
      rules: [{ method: 'GET', path: '/v1/organizations', latencyMs: [150, 150] }],
    });
    try {
      await env.run(async () => {
        const first = acmeCoffee();
        const handle = await env.temporal.client.workflow.start(onboardCustomer, {
          workflowId: onboardingWorkflowId(first.customer.externalId),
          taskQueue: env.taskQueue,
          args: [first, { reconcile: true, timing: { activityTimeoutMs: 2_000, retryMaxIntervalMs: 1000 } }],
          workflowExecutionTimeout: '90 seconds',
        });
        const before = requestsTo(await env.control.state(), LIST_ORGS);
        const result = await handle.result();
        expect(result.verified).toBe(true);
        const cold = requestsTo(await env.control.state(), LIST_ORGS) - before;
        // 450 children in pages of 200: three pages, where pages of 25 needed nineteen.
        expect(cold).toBeLessThanOrEqual(4);

        // A brand-new customer on the same worker: the index is warm, one page (until a known org) answers.
        const second = acmeCoffee();
        const secondHandle = await env.temporal.client.workflow.start(onboardCustomer, {
          workflowId: onboardingWorkflowId(second.customer.externalId),
          taskQueue: env.taskQueue,
          args: [second, { timing: { activityTimeoutMs: 2_000, retryMaxIntervalMs: 1000 } }],
          workflowExecutionTimeout: '90 seconds',
        });
        const beforeWarm = requestsTo(await env.control.state(), LIST_ORGS);
        await secondHandle.result();
        expect(requestsTo(await env.control.state(), LIST_ORGS) - beforeWarm).toBe(1);
        expect(customerInLayers(await env.control.state(), second.customer.externalId).orgs).toHaveLength(1);
      });
    } finally {
      await env.control.clearFaults();
    }
  });

  test('adopting a customer known only to Layers pages 200 at a time: answered while every list page takes 2 s (25 a page needed 19 pages, over the 30 s attempt)', async () => {
    const externalId = `adopt-me-${Date.now().toString(36)}`;
    const org = await env.layers.createOrganization({ name: 'Adopt Me', metadata: { externalId } });
    await env.control.faults({
      seed: 9,
      rules: [{ method: 'GET', path: '/v1/organizations', latencyMs: [2000, 2000] }],
    });
    try {
      await env.run(async () => {
        const before = requestsTo(await env.control.state(), LIST_ORGS);
        const status = await env.crm.pauseAndWait(externalId, {
          reason: 'invoice overdue',
          eventId: `${externalId}-1`,
        });
        expect(status.orgId).toBe(org.id);
        expect(status.state).toBe('suspended');
        expect(requestsTo(await env.control.state(), LIST_ORGS) - before).toBeLessThanOrEqual(4);
      });
      const state = await env.control.state();
      expect(state.organizations.find((o: { id: string }) => o.id === org.id)?.status).toBe('suspended');
    } finally {
      await env.control.clearFaults();
    }
  });
});
