import { onboardingWorkflowId } from '../../common/ids';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { customerInLayers } from './helpers';

// Issue 11, item 9: a funds or kill-switch wait re-checks for days; the onboarding continues-as-new
// instead of growing its history, and its keys keep their identity across runs (one transfer).
describe('long waits continue-as-new', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1000 } });
  });
  afterAll(async () => env?.close());

  async function runsOf(workflowId: string): Promise<number> {
    let runs = 0;
    for await (const _ of env.temporal.client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      runs++;
    return runs;
  }

  test('waiting for funds: continues-as-new every few rounds, then allocates exactly once', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const workflowId = onboardingWorkflowId(externalId);
    await env.run(async () => {
      await env.crm.start(request, { timing: { ...fastTiming, fundsRecheckMs: 100, waitRoundsPerRun: 3 } });
      await eventually(async () => (await runsOf(workflowId)) > 1, { timeoutMs: 60_000 });
      const waiting = await eventually(async () => {
        const status = await env.crm.status(externalId);
        return status.waitingFor === 'waiting for funds' ? status : undefined;
      });
      expect(waiting.orgId).toBeDefined();
      expect(waiting.steps.find((s) => s.name === 'mint-key')!.state).toBe('done');
      await env.control.topUp(10_000);
      const result = await env.crm.result(externalId);
      expect(result.allocated).toBe(5000);
      expect(await runsOf(workflowId)).toBeGreaterThan(1);
    });
    const mine = customerInLayers(await env.control.state(), externalId);
    expect(mine.orgs).toHaveLength(1);
    expect(mine.liveKeys).toHaveLength(1);
    expect(mine.keys).toHaveLength(1);
    expect(mine.allocations).toHaveLength(1);
  });

  test('blocked by the kill switch: continues-as-new while blocked, then completes', async () => {
    await env.control.topUp(10_000);
    await env.control.killSwitch(true);
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const workflowId = onboardingWorkflowId(externalId);
    try {
      await env.run(async () => {
        await env.crm.start(request, {
          timing: { killSwitchBackoffMs: { initial: 100, max: 100 }, waitRoundsPerRun: 3 },
        });
        await eventually(async () => (await runsOf(workflowId)) > 1, { timeoutMs: 60_000 });
        await env.control.killSwitch(false);
        expect((await env.crm.result(externalId)).verified).toBe(true);
      });
    } finally {
      await env.control.killSwitch(false);
    }
    const mine = customerInLayers(await env.control.state(), externalId);
    expect(mine.orgs).toHaveLength(1);
    expect(mine.allocations).toHaveLength(1);
  });
});
