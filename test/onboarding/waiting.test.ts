import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { InvalidInputError } from '../../client';
import { childrenOf, parentWallet, totalCredits } from '../helpers/emulator';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { onboardingWorkflowId } from '../../common/ids';

describe('onboarding waits durably instead of burning retries', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 3000 } });
  });
  afterAll(async () => env?.close());

  test('402 BILLING_EXHAUSTED → waiting for funds → parent top-up → completes with exactly one transfer', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      await env.crm.start(request, { timing: { ...fastTiming, fundsRecheckMs: 60_000 } });
      const waiting = await eventually(async () => {
        const status = await env.crm.status(externalId);
        return status.waitingFor === 'waiting for funds' ? status : undefined;
      });
      expect(waiting.steps.find((s) => s.name === 'allocate-credits')!.state).toBe('waiting');
      const description = await env.temporal.client.workflow
        .getHandle(onboardingWorkflowId(externalId))
        .describe();
      expect(description.searchAttributes.LayersOnboardingStep).toEqual(['waiting-for-funds']);

      const before = await env.control.state();
      expect(before.transfers.filter((t) => t.trigger === 'allocate')).toHaveLength(0);
      await env.control.topUp(10_000);
      await env.crm.parentFunded(externalId);
      const result = await env.crm.result(externalId);
      expect(result.allocated).toBe(5000);
    });
    const state = await env.control.state();
    const org = childrenOf(state).find((o) => o.metadata?.externalId === externalId)!;
    expect(
      state.transfers.filter((t) => t.toOrganizationId === org.id && t.trigger === 'allocate'),
    ).toHaveLength(1);
    expect(parentWallet(state).balance).toBe(3000 + 10_000 - 5000);
    expect(totalCredits(state)).toBe(13_000);
  });

  test('kill switch on → "blocked: kill switch" → cleared → completes', async () => {
    await env.control.topUp(10_000);
    await env.control.killSwitch(true);
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    try {
      await env.run(async () => {
        await env.crm.start(request, { timing: fastTiming });
        const blocked = await eventually(async () => {
          const status = await env.crm.status(externalId);
          return status.waitingFor === 'blocked: kill switch' ? status : undefined;
        });
        expect(blocked.state).toBe('waiting');
        expect(childrenOf(await env.control.state()).some((o) => o.metadata?.externalId === externalId)).toBe(
          false,
        );
        await env.control.killSwitch(false);
        expect((await env.crm.result(externalId)).verified).toBe(true);
      });
    } finally {
      await env.control.killSwitch(false);
    }
    expect(
      childrenOf(await env.control.state()).filter((o) => o.metadata?.externalId === externalId),
    ).toHaveLength(1);
  });

  test('a parent key without org:admin fails fast with a clear message', async () => {
    const { secret } = await env.control.mintKey({
      scopes: ['content:read', 'content:write', 'projects:read', 'projects:write'],
    });
    const limited = await startOnboardingTestEnvWithKey(env, secret);
    const request = acmeCoffee();
    try {
      await limited.run(async () => {
        await limited.crm.start(request);
        const err = await limited.crm.result(request.customer.externalId).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/lacks the org:admin scope/);
      });
    } finally {
      await limited.close();
    }
  });

  test('a 422 from the API fails the workflow at once, non-retryably, with the API message, code and requestId', async () => {
    await env.control.faults({
      seed: 422,
      rules: [
        {
          method: 'POST',
          path: '/v1/projects',
          respondWith: { code: 'VALIDATION', message: 'timezone: not supported in this region' },
        },
      ],
    });
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    try {
      await env.run(async () => {
        await env.crm.start(request, { timing: fastTiming });
        const err = await env.crm.result(externalId).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
        expect(cause.cause ?? cause).toMatchObject({ type: 'LayersNonRetryableError', nonRetryable: true });
        const failure = (cause.cause ?? cause) as ApplicationFailure;
        expect(failure.message).toContain('timezone: not supported in this region');
        expect(failure.details?.[0]).toMatchObject({
          code: 'VALIDATION',
          status: 422,
          requestId: expect.stringMatching(/\S/),
        });
        const status = await env.crm.status(externalId);
        expect(status.steps.find((s) => s.name === 'project')).toMatchObject({ state: 'failed' });
        // The customer workflow reports it too.
        expect((await untilFailed(externalId)).error).toContain('timezone: not supported in this region');
      });
    } finally {
      await env.control.clearFaults();
    }
    // Exactly one attempt: a 422 is not retried.
    const byRoute = (await env.control.state()).requests.byRoute['POST /v1/projects'] ?? {};
    expect(byRoute['422']).toBe(1);

    // Started again once the cause is fixed: the new run reconciles the org the failed one made, and
    // result() follows the new run (not the failed one that still holds the same workflow id).
    const retried = await env.run(async () => {
      const started = await env.crm.start(request, { timing: fastTiming });
      expect(started.started).toBe(true);
      return env.crm.result(externalId);
    });
    expect(retried.verified).toBe(true);
    const orgs = childrenOf(await env.control.state()).filter((o) => o.metadata?.externalId === externalId);
    expect(orgs.map((o) => o.id)).toEqual([retried.orgId]);
  });

  async function untilFailed(externalId: string) {
    const handle = env.crm.customerHandle(externalId);
    return handle.result().then(
      () => {
        throw new Error('customer workflow should have failed');
      },
      (err: WorkflowFailedError) => ({ error: String(err.cause?.message) }),
    );
  }

  test('invalid input is refused before anything starts, naming the field', async () => {
    const request = acmeCoffee();
    const bad = {
      ...request,
      credits: 0,
      creditConfig: { refillThreshold: 1000 },
      apiKey: { scopes: ['org:admin'] },
    };
    const err = await env.crm.start(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^credits: /),
        expect.stringMatching(/^creditConfig\.refillAmount: .*both-or-neither/),
        expect.stringMatching(/^apiKey\.scopes: org:admin can never be delegated/),
      ]),
    );
    await expect(
      env.temporal.client.workflow.getHandle(onboardingWorkflowId(request.customer.externalId)).describe(),
    ).rejects.toThrow(/not found/i);
  });
});

async function startOnboardingTestEnvWithKey(base: OnboardingTestEnv, apiKey: string) {
  const { LayersClient } = await import('../../activities/layers');
  const { FileSecretSink } = await import('../../activities/secret-sink');
  const { OnboardingClient } = await import('../../client');
  const { createTestWorker, uniqueTaskQueue } = await import('../helpers/temporal');
  const layers = new LayersClient({ baseUrl: base.emulator.url, apiKey });
  const taskQueue = uniqueTaskQueue('limited');
  return {
    crm: new OnboardingClient(base.temporal.client, taskQueue),
    run: async <T>(fn: () => Promise<T>) =>
      (
        await createTestWorker(base.temporal, taskQueue, {
          layers,
          secretSink: new FileSecretSink(base.secretsDir),
        })
      ).runUntil(fn),
    close: () => layers.close(),
  };
}
