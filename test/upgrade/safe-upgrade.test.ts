import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { workerDataConverter } from '../../common/codec/data-converter';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import type { CustomerStatus } from '../../common/lifecycle-messages';
import { parseOnboardingInput, type OnboardingRequest } from '../../common/onboarding-input';
import type { OnboardingStatus } from '../../common/onboarding-messages';
import { MEMO_REQUEST_HASH, requestHash } from '../../common/request-hash';
import { LayersCustomerId } from '../../common/search-attributes';
import type { WorkerGroup } from '../../worker/worker';
import { customerInLayers } from '../exactly-once/helpers';
import { parentWallet } from '../helpers/emulator';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { fastLifecycle } from '../lifecycle/helpers';

// Issue 12: workflow code changes while customers are mid-onboarding. Worker A runs the workflow bundle of
// e77e7ad exactly as that commit's worker built it (test/fixtures/workflow-bundles/README.md); customers
// are started the way that commit's client started them and stopped mid-way — waiting for funds, or with a
// step done and the next one failing retryably. A is stopped, worker B comes up with this checkout's
// workflows (bundled at start-up, as `npm run worker` does), replays every one of them, and after the
// wallet is funded and the faults cleared each finishes with exactly one org, key, transfer and project.

const FROZEN = path.resolve(__dirname, '../fixtures/workflow-bundles/e77e7ad.js.gz');
const CREDITS = 5000; // acmeCoffee's allocation
const PARENT_CREDITS = 2 * CREDITS; // two customers get funded before the wallet runs dry
const { EventType } = temporal.api.enums.v1;

const faultRules = {
  project: { method: 'POST', path: '/v1/projects', beforeError: 1 },
  creditConfig: { method: 'PATCH', path: '/v1/organizations/:orgId/credit-config', beforeError: 1 },
  mintKey: { method: 'POST', path: '/v1/organizations/:orgId/api-keys', beforeError: 1 },
};

/**
 * The start e77e7ad's OnboardingClient.start made for a new customer (frozen here like the bundle: the
 * library is changing, but customers already running were started by the old one).
 */
async function startAsE77e7adClient(client: Client, taskQueue: string, request: OnboardingRequest) {
  const parsed = parseOnboardingInput(request);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const input = parsed.value;
  const externalId = input.customer.externalId;
  await client.workflow.start('customerLifecycle', {
    workflowId: customerWorkflowId(externalId),
    taskQueue,
    args: [
      {
        externalId,
        onboarding: {
          request: input,
          options: { timing: { ...fastTiming, retryMaxIntervalMs: 1000 }, reconcile: false },
        },
        timing: fastLifecycle,
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    typedSearchAttributes: [{ key: LayersCustomerId, value: externalId }],
    memo: { [MEMO_REQUEST_HASH]: requestHash(input) },
    staticSummary: `Customer ${input.customer.name} (${externalId})`,
  });
  return externalId;
}

type Stop = {
  status: OnboardingStatus;
  /** Activity type → attempt, of the activities the onboarding has scheduled and not seen finish. */
  pending: Map<string, number>;
};

describe('safe upgrade of workflow code under mid-flight onboardings', () => {
  let env: OnboardingTestEnv;
  let frozenCode: string;
  const running: Array<{ group: WorkerGroup; run?: Promise<void> }> = [];

  beforeAll(async () => {
    frozenCode = gunzipSync(readFileSync(FROZEN)).toString('utf8');
    env = await startOnboardingTestEnv({ emulator: { parentCredits: PARENT_CREDITS } });
  });
  afterAll(async () => {
    // A failed case leaves its worker polling: stop it before the connection it holds is closed.
    for (const { group, run } of running) {
      group.shutdown();
      await (run ?? group.close()).catch(() => undefined);
    }
    await env?.close();
  });

  /** Creates a worker of the suite and runs it until the case stops it (or afterAll does). */
  async function runWorker(extra: Parameters<OnboardingTestEnv['newWorker']>[0]) {
    const group = await env.newWorker(extra);
    const entry: (typeof running)[number] = { group };
    running.push(entry);
    entry.run = group.run();
    entry.run.catch(() => undefined); // awaited when stopped; a crash shows there
    return { stop: () => (group.shutdown(), entry.run!) };
  }

  // Step names as e77e7ad's onboarding reports them (a string: the new code may name its steps otherwise).
  const stepState = (status: OnboardingStatus, name: string) =>
    status.steps.find((s) => s.name === name)?.state;

  async function onboardingNow(externalId: string): Promise<Stop> {
    const handle = env.temporal.client.workflow.getHandle(onboardingWorkflowId(externalId));
    const [status, description] = await Promise.all([
      handle.query<OnboardingStatus>('status'),
      handle.describe(),
    ]);
    const pending = new Map(
      (description.raw.pendingActivities ?? []).map((a) => [a.activityType?.name ?? '', a.attempt ?? 0]),
    );
    return { status, pending };
  }

  const until = (externalId: string, reached: (stop: Stop) => boolean) =>
    eventually(async () => {
      const stop = await onboardingNow(externalId);
      return reached(stop) ? stop : undefined;
    });

  const customerState = async (externalId: string) =>
    (
      await env.temporal.client.workflow
        .getHandle(customerWorkflowId(externalId))
        .query<CustomerStatus>('status')
    ).state;

  // Where each customer is held while the code changes under it.
  const held = {
    /** Firehose done, create-project failing (500) until the faults are cleared. */
    beforeProject: (s: Stop) =>
      stepState(s.status, 'firehose') === 'done' && (s.pending.get('createProject') ?? 0) >= 2,
    /** Credits allocated, credit-config failing. */
    beforeCreditConfig: (s: Stop) =>
      stepState(s.status, 'allocate-credits') === 'done' && (s.pending.get('configureCredits') ?? 0) >= 2,
    /** Org created, the key mint failing. */
    beforeMintKey: (s: Stop) =>
      stepState(s.status, 'create-org') === 'done' && (s.pending.get('mintChildApiKey') ?? 0) >= 2,
    /** Key minted, the allocation refused with 402 and parked until the parent wallet is topped up. */
    waitingForFunds: (s: Stop) =>
      s.status.waitingFor === 'waiting for funds' && stepState(s.status, 'mint-key') === 'done',
  };

  /** Every WorkflowTaskFailed (nondeterminism included) of every run on the suite's task queue. */
  async function workflowTaskFailures(): Promise<string[]> {
    const failures: string[] = [];
    const client = env.temporal.client;
    for await (const run of client.workflow.list({ query: `TaskQueue = '${env.taskQueue}'` })) {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      for (const event of history.events ?? [])
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
          failures.push(
            `${run.workflowId}#${String(event.eventId)}: ${event.workflowTaskFailedEventAttributes?.failure?.message}`,
          );
    }
    return failures;
  }

  /** History length of the current run of each workflow, and that run's id. */
  async function cutPoints(workflowIds: string[]) {
    return Promise.all(
      workflowIds.map(async (workflowId) => {
        const d = await env.temporal.client.workflow.getHandle(workflowId).describe();
        return { workflowId, runId: d.runId, length: d.historyLength };
      }),
    );
  }

  /** The build ids of the workers that completed workflow tasks up to event `length` of a run, and after it. */
  async function buildIdsAround(cut: { workflowId: string; runId?: string; length: number }) {
    const history = await env.temporal.client.workflow.getHandle(cut.workflowId, cut.runId).fetchHistory();
    const before = new Set<string>();
    const after = new Set<string>();
    for (const event of history.events ?? []) {
      const completed = event.workflowTaskCompletedEventAttributes;
      if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED || !completed) continue;
      const buildId =
        completed.deploymentVersion?.buildId ||
        completed.workerVersion?.buildId ||
        completed.binaryChecksum ||
        '';
      (Number(event.eventId) > cut.length ? after : before).add(buildId);
    }
    return { before, after };
  }

  test('customers stopped in a funds wait and between two steps finish on the new code, each exactly once', async () => {
    const { client } = env.temporal;
    const dataConverter = workerDataConverter(undefined); // worker/main.ts without codec keys
    const start = (label: string) =>
      startAsE77e7adClient(client, env.taskQueue, acmeCoffee(`upgrade-${label}-${Date.now().toString(36)}`));

    // --- the old code: e77e7ad's bundle, today's activities -------------------------------------------
    const oldWorker = await runWorker({ workflowBundle: { code: frozenCode }, dataConverter });

    await env.control.faults({ seed: 'upgrade', rules: [faultRules.project] });
    const beforeProject = await start('project');
    await until(beforeProject, (s) => stepState(s.status, 'credit-config') === 'done');

    await env.control.faults({ seed: 'upgrade', rules: [faultRules.project, faultRules.creditConfig] });
    const beforeCreditConfig = await start('cap');
    await until(beforeCreditConfig, (s) => stepState(s.status, 'allocate-credits') === 'done');

    // The wallet is empty now: these two park in the funds wait.
    const waitingForFunds = await Promise.all([start('funds-1'), start('funds-2')]);
    await Promise.all(waitingForFunds.map((id) => until(id, held.waitingForFunds)));

    await env.control.faults({
      seed: 'upgrade',
      rules: [faultRules.project, faultRules.creditConfig, faultRules.mintKey],
    });
    const beforeMintKey = await start('key');

    const stops: Array<[string, (s: Stop) => boolean]> = [
      [beforeProject, held.beforeProject],
      [beforeCreditConfig, held.beforeCreditConfig],
      [beforeMintKey, held.beforeMintKey],
      ...waitingForFunds.map((id): [string, (s: Stop) => boolean] => [id, held.waitingForFunds]),
    ];
    await Promise.all(stops.map(([id, reached]) => until(id, reached)));
    const midFlight = stops.map(([id]) => id);
    for (const id of midFlight) expect(await customerState(id)).toBe('onboarding');
    expect(parentWallet(await env.control.state()).balance).toBe(0);

    // --- the upgrade -----------------------------------------------------------------------------------
    await oldWorker.stop();
    const oldWorkflows = midFlight.flatMap((id) => [customerWorkflowId(id), onboardingWorkflowId(id)]);
    const cuts = await cutPoints(oldWorkflows);
    // This checkout's workflows, bundled at start-up as startWorker does when given no bundle. (One process
    // cannot hold two workers of one task queue and build id, so it is created only now.)
    const newWorker = await runWorker({ workflowBundle: undefined, dataConverter });

    // Still held, now on the new code: a query replays each history from the start, and the funds waits
    // go on re-checking the wallet under it.
    for (const [id, reached] of stops) expect(reached(await onboardingNow(id))).toBe(true);
    for (const id of midFlight) expect(await customerState(id)).toBe('onboarding');
    const fundWaitCuts = cuts.filter((c) =>
      waitingForFunds.some((id) => c.workflowId === onboardingWorkflowId(id)),
    );
    await eventually(async () =>
      (await Promise.all(fundWaitCuts.map(buildIdsAround))).every(({ after }) => after.size > 0),
    );

    // --- release them, and onboard someone new on the new code -------------------------------------------
    await env.control.topUp(4 * CREDITS); // the two waiting, the one before its key, the new one
    await env.control.clearFaults();
    const fresh = acmeCoffee(`upgrade-new-${Date.now().toString(36)}`);
    await env.crm.start(fresh, { timing: fastTiming, lifecycle: fastLifecycle });
    const everyone = [...midFlight, fresh.customer.externalId];

    try {
      await eventually(
        async () => (await Promise.all(everyone.map(customerState))).every((s) => s === 'active'),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    } catch (err) {
      const states = await Promise.all(everyone.map(async (id) => `${id}: ${await customerState(id)}`));
      throw new Error(
        `${(err as Error).message}\n${states.join('\n')}\nworkflow task failures: ${(await workflowTaskFailures()).join('\n')}`,
      );
    }

    // Every old run ran on one worker up to the cut and was carried past it by the other: their build ids
    // (the SDK derives one from the bundle's hash) differ, and after the cut it is the new onboarding's.
    const newBuildIds = await buildIdsAround({
      workflowId: customerWorkflowId(fresh.customer.externalId),
      length: 0,
    });
    const sides = await Promise.all(cuts.map(buildIdsAround));
    const oldBuildId = [...sides[0]!.before][0];
    for (const [i, { before, after }] of sides.entries())
      expect({ workflowId: cuts[i]!.workflowId, before: [...before], after: [...after] }).toEqual({
        workflowId: cuts[i]!.workflowId,
        before: [oldBuildId],
        after: [...newBuildIds.after],
      });
    expect(newBuildIds.after.size).toBe(1);
    expect(newBuildIds.after.has(oldBuildId!)).toBe(false);

    const state = await env.control.state();
    for (const externalId of everyone) {
      const mine = customerInLayers(state, externalId);
      expect({
        externalId,
        orgs: mine.orgs.length,
        keys: mine.keys.length,
        liveKeys: mine.liveKeys.length,
        transfers: mine.allocations.length,
        childLedger: mine.childLedger.length,
        projects: mine.projects.length,
      }).toEqual({ externalId, orgs: 1, keys: 1, liveKeys: 1, transfers: 1, childLedger: 1, projects: 1 });
      expect(mine.allocations[0]!.credits).toBe(CREDITS);
    }
    // Six customers funded from what the partner bought, no credit moved twice.
    expect(parentWallet(state).balance).toBe(PARENT_CREDITS + 4 * CREDITS - everyone.length * CREDITS);
    expect(await workflowTaskFailures()).toEqual([]);

    await newWorker.stop();
  });
});
