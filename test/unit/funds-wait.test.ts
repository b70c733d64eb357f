import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { LayersFailureType } from '../../common/failure-types';
import { parseOnboardingInput, type OnboardingRequest } from '../../common/onboarding-input';
import {
  onboardingStatusQuery,
  parentFundedSignal,
  type OnboardingOptions,
  type OnboardingResult,
} from '../../common/onboarding-messages';
import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { recording, runWithMockedWorker, type MockActivities, useTimeSkippingEnv } from './time-skipping';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const CREDITS = 5000;

const timeSkipping = useTimeSkippingEnv();

function request(externalId: string): OnboardingRequest {
  return {
    customer: { externalId, name: 'Acme Coffee' },
    apiKey: { name: 'acme-integration', scopes: ['content:read'] },
    credits: CREDITS,
  };
}

/** A parent wallet that holds `CREDITS` only once `funded()` says so; everything else on Layers just works. */
function layersWithWallet(funded: () => boolean): MockActivities {
  const wallet = () => (funded() ? CREDITS * 2 : 100);
  return {
    validateOnboardingInput: async (req: unknown) => parseOnboardingInput(req),
    preflight: async () => ({
      parentOrganizationId: 'org_parent',
      rateLimitTier: 'scale',
      creditBalance: wallet(),
      blocked: false,
    }),
    createChildOrganization: async () => ({ orgId: 'org_child', reconciled: false }),
    mintChildApiKey: async () => ({
      id: 'key_1',
      prefix: 'lk_live_ab',
      scopes: ['content:read'],
      secretRef: 'ref_1',
    }),
    allocateCredits: async (input: { credits: number }) => {
      if (wallet() < input.credits)
        throw ApplicationFailure.create({
          type: LayersFailureType.insufficientFunds,
          nonRetryable: true,
          message: `Parent wallet holds ${wallet()} credits, ${input.credits} asked`,
        });
      return {
        transferId: 'tr_1',
        allocated: input.credits,
        balance: input.credits,
        available: input.credits,
        replayed: false,
        reconciled: false,
      };
    },
    ensurePartnerFirehose: async () => ({ configured: false }),
    verifyOnboarding: async () => ({
      status: 'active',
      balance: CREDITS,
      available: CREDITS,
      creditConfig: {
        monthlyCreditCap: null,
        refillThreshold: null,
        refillAmount: null,
        autoRefillEnabled: false,
      },
    }),
  };
}

async function startOnboarding(taskQueue: string, timing: OnboardingOptions['timing']) {
  const externalId = `cust-${taskQueue}`;
  return timeSkipping().client.workflow.start('onboardCustomer', {
    taskQueue,
    workflowId: `onboarding/${externalId}`,
    args: [request(externalId), { timing }],
  });
}

async function waitingForFunds(handle: WorkflowHandle) {
  return eventually(async () => {
    const status = await handle.query(onboardingStatusQuery);
    return status.waitingFor === 'waiting for funds' && status;
  });
}

test('an allocation short of funds waits, re-checks the wallet, and completes once a day later it is topped up', async () => {
  const env = timeSkipping();
  const startedAt = await env.currentTimeMs();
  const fundedAt = startedAt + DAY;
  // The wallet is topped up a day in, on the server's (skipped) clock.
  const { activities, calls } = recording(
    layersWithWallet(() => Context.current().info.currentAttemptScheduledTimestampMs >= fundedAt),
  );
  const taskQueue = uniqueTaskQueue('unit-funds');
  const wallClockStart = Date.now();

  const result = await runWithMockedWorker(env, taskQueue, activities, async () => {
    const handle = await startOnboarding(taskQueue, { fundsRecheckMs: HOUR });
    const waiting = await waitingForFunds(handle);
    expect(waiting.state).toBe('waiting');
    expect(waiting.steps.find((s) => s.name === 'allocate-credits')?.state).toBe('waiting');

    const done = await handle.result(); // the server skips the hourly re-checks
    expect((await handle.query(onboardingStatusQuery)).state).toBe('completed');
    return done as OnboardingResult;
  });

  expect(result).toMatchObject({
    orgId: 'org_child',
    transferId: 'tr_1',
    allocated: CREDITS,
    verified: true,
  });
  const allocations = calls.filter((c) => c.name === 'allocateCredits');
  expect(allocations).toHaveLength(2);
  expect(allocations[0]!.scheduledAt).toBeLessThan(fundedAt);
  expect(allocations[1]!.scheduledAt).toBeGreaterThanOrEqual(fundedAt);
  // A stored 402 replays as 402: the attempt after the top-up carries a new idempotency key.
  const keys = allocations.map((c) => (c.args[0] as { idempotencyKey: string }).idempotencyKey);
  expect(new Set(keys).size).toBe(2);
  // It re-checked the wallet about hourly through the skipped day (one preflight before, ~24 during).
  const rechecks = calls.filter((c) => c.name === 'preflight' && c.scheduledAt > allocations[0]!.scheduledAt);
  expect(rechecks.length).toBeGreaterThanOrEqual(23);
  expect(rechecks.length).toBeLessThanOrEqual(25);
  expect(Date.now() - wallClockStart).toBeLessThan(10_000);
}, 30_000);

test('the parentFunded signal ends the funds wait at once, without waiting for the next re-check', async () => {
  const env = timeSkipping();
  let topUp = false;
  const { activities, calls } = recording(layersWithWallet(() => topUp));
  const taskQueue = uniqueTaskQueue('unit-funds');

  const result = await runWithMockedWorker(env, taskQueue, activities, async () => {
    const handle = await startOnboarding(taskQueue, { fundsRecheckMs: DAY });
    await waitingForFunds(handle);
    topUp = true;
    await handle.signal(parentFundedSignal);
    return (await handle.result()) as OnboardingResult;
  });

  expect(result).toMatchObject({ transferId: 'tr_1', allocated: CREDITS, verified: true });
  const allocations = calls.filter((c) => c.name === 'allocateCredits');
  expect(allocations).toHaveLength(2);
  expect(allocations[1]!.scheduledAt - allocations[0]!.scheduledAt).toBeLessThan(DAY);
  // Only the preflight before the first allocation: the signal, not a re-check, woke it.
  expect(calls.filter((c) => c.name === 'preflight')).toHaveLength(1);
}, 30_000);
