/**
 * The baseline: the same onboardings made by a plain script — the same activity code and the same
 * LayersClient, step after step, no Temporal. Each activity runs in a MockActivityEnvironment (it needs an
 * activity Context for its cancellation signal); a retryable failure (a 429, say) is retried after its
 * Retry-After, like the workflow's retry policy would. `concurrency` lanes run side by side, each one
 * onboarding after another, so the comparison with the orchestrated run is like for like.
 *
 * Like the orchestrated run, the script remembers how far each onboarding got: after every step it appends a
 * JSON line (the step and the ids it produced, never a secret) to a progress file and, by default,
 * fdatasyncs it — a script that must survive a crash mid-import needs at least that, and it is the part of
 * Temporal's cost (persisting each step) a baseline without it would leave out. (The bench's dev server
 * keeps its store in memory and does not sync, so with 'fsync' the baseline is, if anything, the more
 * durable side.)
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDeps } from '../activities';
import { idempotencyKey } from '../workflows/idempotency';
import type { OnboardingRequest } from '../common/onboarding-input';
import { onboardingWorkflowId } from '../common/ids';

export interface BaselineResult {
  wallMs: number;
  latenciesMs: number[];
  /** Per completed onboarding: workflow id it would have had, latency, steps, when it finished (epoch ms). */
  onboardings: Array<{ workflowId: string; latencyMs: number; steps: number; finishedAt: number }>;
  failed: number;
  /** Steps (activities) each onboarding ran, in order. */
  stepsPerOnboarding: number[];
  firstError?: string;
}

/** How the baseline persists its progress: fdatasync after each line, append only, or not at all. */
export type BaselinePersistence = 'fsync' | 'write' | 'off';

class ProgressLog {
  private constructor(
    private readonly file: FileHandle | null,
    private readonly sync: boolean,
  ) {}

  static async open(file: string, persistence: BaselinePersistence): Promise<ProgressLog> {
    return new ProgressLog(persistence === 'off' ? null : await open(file, 'a'), persistence === 'fsync');
  }

  async record(entry: Record<string, unknown>): Promise<void> {
    if (!this.file) return;
    await this.file.appendFile(JSON.stringify({ at: Date.now(), ...entry }) + '\n');
    if (this.sync) await this.file.datasync();
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
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
  progress: ProgressLog,
): Promise<number> {
  const workflowId = onboardingWorkflowId(request.customer.externalId);
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
  // The workflow validates at the trust boundary in a local activity; so does the script (not a step: no Layers call).
  const parsed = (await env.run(activities.validateOnboardingInput, request, {
    workflowId,
  })) as Awaited<ReturnType<typeof activities.validateOnboardingInput>>;
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const input = parsed.value;
  const externalId = input.customer.externalId;
  let steps = 0;
  const step = async <R>(
    name: string,
    p: Promise<R>,
    ids: (r: R) => Record<string, unknown> = () => ({}),
  ): Promise<R> => {
    steps++;
    const r = await p;
    await progress.record({ workflowId, step: name, ...ids(r) });
    return r;
  };

  await step('preflight', run(activities.preflight));
  const { orgId } = await step(
    'create-org',
    run(activities.createChildOrganization, {
      ...key('create-org'),
      workflowId,
      externalId,
      name: input.customer.name,
      metadata: input.customer.metadata,
      billingEmail: input.customer.billingEmail,
      // A first run cannot prove its keys young, so the workflow looks before it writes: the script too.
      reconcile: true,
    }),
    (r) => ({ orgId: r.orgId }),
  );
  const apiKey = await step(
    'mint-key',
    run(activities.mintChildApiKey, {
      ...key('mint-key'),
      orgId,
      externalId,
      name: input.apiKey.name ?? `${externalId}-integration`.slice(0, 120),
      scopes: input.apiKey.scopes,
      workflowId,
    }),
    (r) => ({ apiKeyId: r.id }),
  );
  const allocation = await step(
    'allocate-credits',
    run(activities.allocateCredits, {
      ...key('allocate-credits'),
      orgId,
      workflowId,
      externalId,
      credits: input.credits,
    }),
    (r) => ({ transferId: r.transferId }),
  );
  if (input.creditConfig) {
    await step(
      'credit-config',
      run(activities.configureCredits, {
        orgId,
        patch: input.creditConfig,
        idempotencyKey: key('credit-config').idempotencyKey,
      }),
    );
  }
  // The partner firehose (worker configuration) and the customer's own child-scoped webhook, as the workflow.
  await step(
    'firehose',
    (async () => {
      const partner = await run(activities.ensurePartnerFirehose);
      const own = input.firehose
        ? await run(activities.ensureCustomerWebhook, {
            orgId,
            externalId,
            url: input.firehose.url,
            events: input.firehose.events,
            idempotencyKey: key('firehose').idempotencyKey,
          })
        : undefined;
      return { partner, own };
    })(),
    (r) => ({ endpointId: r.own?.endpointId ?? r.partner.endpointId }),
  );
  let projectId: string | undefined;
  if (input.project) {
    ({ projectId } = await step(
      'project',
      run(activities.createProject, {
        orgId,
        name: input.project.name,
        timezone: input.project.timezone,
        externalId,
        ...key('project'),
      }),
      (r) => ({ projectId: r.projectId }),
    ));
  }
  await step(
    'verify',
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
  deps: Pick<ActivityDeps, 'layers' | 'secretSink' | 'webhookUrlPolicy'>,
  requests: OnboardingRequest[],
  concurrency: number,
  persist: { file: string; persistence: BaselinePersistence },
): Promise<BaselineResult> {
  const activities = createActivities(deps);
  const progress = await ProgressLog.open(persist.file, persist.persistence);
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
        const steps = await onboardOnce(activities, request, progress);
        const latencyMs = performance.now() - t0;
        result.stepsPerOnboarding.push(steps);
        result.latenciesMs.push(latencyMs);
        result.onboardings.push({
          workflowId: onboardingWorkflowId(request.customer.externalId),
          latencyMs,
          steps,
          finishedAt: Date.now(),
        });
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, lane));
  } finally {
    await progress.close();
  }
  result.wallMs = Date.now() - started;
  return result;
}
