/**
 * The baseline: the same onboardings made by a plain script — the same activity code and the same
 * LayersClient, step after step, no Temporal. Each activity runs in a MockActivityEnvironment (it needs an
 * activity Context for its cancellation signal); a retryable failure (a 429, say) is retried after its
 * Retry-After, like the workflow's retry policy would. `concurrency` lanes run side by side, each one
 * onboarding after another, so the comparison with the orchestrated run is like for like.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import type { LayersClient } from '../activities/layers';
import type { SecretSink } from '../activities/secret-sink';
import { firehoseIdempotencyKey, idempotencyKey } from '../workflows/idempotency';
import { parseOnboardingInput, type OnboardingRequest } from '../common/onboarding-input';
import { onboardingWorkflowId } from '../common/ids';

export interface BaselineResult {
  wallMs: number;
  latenciesMs: number[];
  /** Per completed onboarding: workflow id it would have had, latency, steps. */
  onboardings: Array<{ workflowId: string; latencyMs: number; steps: number }>;
  failed: number;
  /** Steps (activities) each onboarding ran, in order. */
  stepsPerOnboarding: number[];
  firstError?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function attempt<T>(fn: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ApplicationFailure) || err.nonRetryable || n >= 20) throw err;
      await sleep(
        err.nextRetryDelay !== undefined ? Number(err.nextRetryDelay) : Math.min(1000 * 2 ** n, 30_000),
      );
    }
  }
}

/** One onboarding, the workflow's steps in the workflow's order. Returns the number of steps. */
async function onboardOnce(
  activities: ReturnType<typeof createActivities>,
  request: OnboardingRequest,
): Promise<number> {
  const parsed = parseOnboardingInput(request);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const input = parsed.value;
  const externalId = input.customer.externalId;
  const workflowId = onboardingWorkflowId(externalId);
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId, runId: 'baseline' },
    activityType: 'baseline',
  });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
    attempt(() => env.run(fn, ...args) as Promise<R>);
  const key = (name: string) => ({
    idempotencyKey: idempotencyKey(workflowId, name, 0),
    keyIssuedAt: Date.now(),
  });
  let steps = 0;
  const step = async <R>(p: Promise<R>) => {
    steps++;
    return p;
  };

  await step(run(activities.preflight));
  const { orgId } = await step(
    run(activities.createChildOrganization, {
      ...key('create-org'),
      workflowId,
      externalId,
      name: input.customer.name,
      metadata: input.customer.metadata,
      billingEmail: input.customer.billingEmail,
    }),
  );
  const apiKey = await step(
    run(activities.mintChildApiKey, {
      ...key('mint-key'),
      orgId,
      externalId,
      name: input.apiKey.name ?? `${externalId}-integration`.slice(0, 120),
      scopes: input.apiKey.scopes,
    }),
  );
  const allocation = await step(
    run(activities.allocateCredits, {
      ...key('allocate-credits'),
      orgId,
      workflowId,
      externalId,
      credits: input.credits,
    }),
  );
  if (input.creditConfig) {
    await step(
      run(activities.configureCredits, {
        orgId,
        patch: input.creditConfig,
        idempotencyKey: key('credit-config').idempotencyKey,
      }),
    );
  }
  if (input.firehose) {
    const { url, events } = input.firehose;
    await step(
      run(activities.ensureFirehose, {
        url,
        events,
        idempotencyKey: firehoseIdempotencyKey(url, 'all_children', events),
      }),
    );
  }
  let projectId: string | undefined;
  if (input.project) {
    ({ projectId } = await step(
      run(activities.createProject, {
        orgId,
        name: input.project.name,
        timezone: input.project.timezone,
        externalId,
        idempotencyKey: key('project').idempotencyKey,
      }),
    ));
  }
  await step(
    run(activities.verifyOnboarding, {
      orgId,
      expected: {
        name: input.customer.name,
        externalId,
        transferId: allocation.transferId,
        credits: input.credits,
        creditConfig: input.creditConfig,
        projectId,
        apiKeyId: apiKey.id,
        scopes: input.apiKey.scopes,
      },
    }),
  );
  return steps;
}

export async function runBaseline(
  deps: { layers: LayersClient; secretSink: SecretSink },
  requests: OnboardingRequest[],
  concurrency: number,
): Promise<BaselineResult> {
  const activities = createActivities(deps);
  const result: BaselineResult = {
    wallMs: 0,
    latenciesMs: [],
    onboardings: [],
    failed: 0,
    stepsPerOnboarding: [],
  };
  let next = 0;
  const started = Date.now();
  const lane = async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      const t0 = performance.now();
      try {
        const steps = await onboardOnce(activities, request);
        const latencyMs = performance.now() - t0;
        result.stepsPerOnboarding.push(steps);
        result.latenciesMs.push(latencyMs);
        result.onboardings.push({
          workflowId: onboardingWorkflowId(request.customer.externalId),
          latencyMs,
          steps,
        });
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, lane));
  result.wallMs = Date.now() - started;
  return result;
}
