import {
  ActivityFailure,
  ApplicationFailure,
  type ActivityOptions,
  type LocalActivityOptions,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { defaultActivityOptions as activityOptions, failureMessage, failureType } from './layers-activities';
import { firehoseIdempotencyKey, idempotencyKey } from './idempotency';
import {
  ONBOARDING_STEPS,
  onboardingStatusQuery,
  parentFundedSignal,
  type OnboardingContinuation,
  type OnboardingOptions,
  type OnboardingResult,
  type OnboardingStatus,
  type OnboardingStepName,
  type StepStatus,
} from '../common/onboarding-messages';
import type { OnboardingInput, OnboardingRequest } from '../common/onboarding-input';
import { onboardingInput } from './lazy-modules';
import { layersReadQueue, layersWriteQueue } from '../common/ids';
import {
  LayersCustomerId,
  LayersLifecycleState,
  LayersOnboardingStep,
  LayersOrgId,
} from '../common/search-attributes';
import { WorkflowFailureType } from '../common/failure-types';
import {
  onboardingWaitingSignal,
  orgCreatedSignal,
  reportOrgSignal,
  stopOnboardingSignal,
} from './internal-messages';
import { upsertChangedSearchAttributes } from './search-attribute-updates';

function describeSteps(status: OnboardingStatus): string {
  const rows = status.steps.map((s) => `| ${s.name} | ${s.state} | ${s.detail ?? ''} |`).join('\n');
  const headline = status.waitingFor ? `**${status.waitingFor}**` : `**${status.state}**`;
  return `### Onboarding \`${status.externalId}\` — ${headline}\n\n| step | state | detail |\n|---|---|---|\n${rows}\n${
    status.error ? `\n**Error:** ${status.error}\n` : ''
  }`;
}

/**
 * Runs that began with this patch validate their input once, in a local activity whose answer is
 * recorded in history, and continue-as-new during long waits. Validation uses zod and `Intl` (time
 * zones): a library or Node upgrade may change an answer, and a workflow that re-validated on replay
 * would then take another branch than the one it recorded. Recorded, the decision is the one made
 * when the run started, forever; a run that continues-as-new carries the validated input and never
 * validates again. Runs recorded before the patch keep validating inline, as they did.
 */
const EXACTLY_ONCE_PATCH = 'onboarding-exactly-once-v2';

/**
 * Runs that began with this patch check, in the same recorded validation, what the client checks early
 * (the workflow is the trust boundary: any Temporal client can start it): `customer.externalId` names
 * this workflow, no key material anywhere, the firehose URL obeys the webhook rules.
 */
const INPUT_BOUNDARY_PATCH = 'workflow-input-boundary';

/**
 * Runs that began with this patch take the lean shape: search attributes are written when the org is known
 * and at the end (or a wait), never per step (the current step lives in the `status` query and the
 * workflow's current details); the partner firehose, which the worker ensures once, is a local activity; the
 * customer is told of the org only when it asks (a pause waiting for it). The Layers calls keep their order,
 * one at a time, writes on the paced write queue: each step is a safe point a churn or pause can land in
 * (observable by query), and cap + auto-refill must follow the allocation (a refill threshold set on an empty
 * wallet would make Layers refill it from the parent first). Runs recorded before keep the old shape.
 */
export const LEAN_ONBOARDING_PATCH = 'lean-onboarding';

const validation = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

function invalidInput(errors: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: WorkflowFailureType.invalidOnboardingInput,
    nonRetryable: true,
    message: `Invalid onboarding input: ${errors.join('; ')}`,
  });
}

export async function onboardCustomer(
  request: OnboardingRequest,
  options: OnboardingOptions = {},
): Promise<OnboardingResult> {
  const carried: OnboardingContinuation | undefined = options.continued;
  // Decided once, first: a lean run implies every earlier patch and records no marker for them (Temporal
  // upserts the TemporalChangeVersion search attribute for each patch a run records: a visibility write each).
  const lean = patched(LEAN_ONBOARDING_PATCH);
  const v2 = lean || patched(EXACTLY_ONCE_PATCH);
  const inputBoundary = () => lean || patched(INPUT_BOUNDARY_PATCH);
  // Only a run this workflow continued-as-new may skip validation: a start carrying `continued` is refused.
  if (carried && !workflowInfo().continuedFromExecutionRunId && inputBoundary()) {
    throw ApplicationFailure.create({
      type: WorkflowFailureType.invalidWorkflowInput,
      nonRetryable: true,
      message:
        'Invalid onboarding input: options.continued: is set only by the workflow itself (continue-as-new)',
    });
  }
  let input: OnboardingInput;
  if (carried) input = carried.input as OnboardingInput;
  else if (v2) {
    // The boundary checks (ids, secrets, webhook URL) ride in the recorded validation: replay never re-decides them.
    const parsed = inputBoundary()
      ? await validation.validateOnboardingInput(request, { workflowId: workflowInfo().workflowId })
      : await validation.validateOnboardingInput(request);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    input = parsed.value;
  } else {
    const parsed = onboardingInput().parseOnboardingInput(request);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    input = parsed.value;
  }
  const { workflowId, taskQueue } = workflowInfo();
  const baseOptions: ActivityOptions = {
    ...activityOptions,
    ...(options.timing?.activityTimeoutMs ? { startToCloseTimeout: options.timing.activityTimeoutMs } : {}),
    ...(options.timing?.retryMaxIntervalMs
      ? { retry: { ...activityOptions.retry, maximumInterval: options.timing.retryMaxIntervalMs } }
      : {}),
  };
  const writeOptions: ActivityOptions = { ...baseOptions, taskQueue: layersWriteQueue(taskQueue) };
  const readOptions: ActivityOptions = { ...baseOptions, taskQueue: layersReadQueue(taskQueue) };
  const writes = proxyActivities<Activities>(writeOptions);
  const reads = proxyActivities<Activities>(readOptions);
  // The partner firehose is ensured by the worker once (it caches the endpoint): a local activity, run inside
  // the workflow task, costs no activity task. The steps a CRM request can land in stay activities: a query or
  // signal is answered between workflow tasks, never while a local activity holds one open.
  const localOptions: LocalActivityOptions = {
    startToCloseTimeout: baseOptions.startToCloseTimeout,
    retry: baseOptions.retry,
  };
  const localWrites = proxyLocalActivities<Activities>(localOptions);
  const localWrite = (summary: string): LocalActivityOptions => ({ ...localOptions, summary });
  const externalId = input.customer.externalId;
  const killSwitchBackoff = options.timing?.killSwitchBackoffMs ?? { initial: 5_000, max: 300_000 };
  const fundsRecheckMs = options.timing?.fundsRecheckMs ?? 300_000;
  const waitRoundsPerRun = options.timing?.waitRoundsPerRun ?? 400;
  // Look-ups page through every child or ledger event and heartbeat as they go: give them time, and
  // notice a dead worker by its silence instead of by a short start-to-close timeout.
  const lookupOptions: ActivityOptions = {
    ...writeOptions,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: options.timing?.activityTimeoutMs ?? '30 seconds',
  };

  const status: OnboardingStatus = {
    externalId,
    state: 'running',
    steps: carried
      ? carried.steps.map((s) => ({ ...s }))
      : ONBOARDING_STEPS.map((name): StepStatus => ({ name, state: 'pending' })),
    ...(carried?.orgId ? { orgId: carried.orgId } : {}),
  };
  let fundedSignals = 0;
  setHandler(onboardingStatusQuery, () => status);
  setHandler(parentFundedSignal, () => {
    fundedSignals++;
  });
  // A churn during onboarding: finish the call in flight, then stop before the next one.
  let stopRequested: string | undefined;
  setHandler(stopOnboardingSignal, ({ reason }) => {
    stopRequested ??= reason;
  });
  // The customer asks for the org id only when something waits for it (a pause during onboarding).
  let orgWanted = carried?.orgWanted ?? false;
  let orgTold = false;
  async function tellCustomerTheOrg(): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent || orgTold || !status.orgId) return;
    orgTold = true;
    await getExternalWorkflowHandle(parent.workflowId)
      .signal(orgCreatedSignal, { orgId: status.orgId })
      .catch(() => undefined); // a customer run that has just closed needs no news; this onboarding goes on
  }
  setHandler(reportOrgSignal, async () => {
    if (!lean) return; // older shapes tell the customer at once, unasked
    orgWanted = true;
    await tellCustomerTheOrg();
  });
  const stopIfRequested = () => {
    if (stopRequested === undefined) return;
    throw ApplicationFailure.create({
      type: WorkflowFailureType.onboardingStopped,
      nonRetryable: true,
      message: `Onboarding ${externalId} stopped at a safe point: ${stopRequested}`,
      details: [{ orgId: status.orgId ?? null }],
    });
  };

  const step = (name: OnboardingStepName) => status.steps.find((s) => s.name === name)!;
  const publish = (searchStep: string) => {
    upsertChangedSearchAttributes(
      [
        { key: LayersCustomerId, value: externalId },
        { key: LayersOnboardingStep, value: searchStep },
        ...(status.orgId ? [{ key: LayersOrgId, value: status.orgId }] : []),
        {
          key: LayersLifecycleState,
          value:
            status.state === 'completed' ? 'active' : status.state === 'failed' ? 'failed' : 'onboarding',
        },
      ],
      lean,
    );
    setCurrentDetails(describeSteps(status));
  };
  const mark = (name: OnboardingStepName, state: StepStatus['state'], detail?: string) => {
    Object.assign(step(name), { state, ...(detail !== undefined ? { detail } : {}) });
    if (state === 'running') status.currentStep = name;
    // Lean runs keep the step out of visibility (one write each): the query and current details carry it.
    if (lean) setCurrentDetails(describeSteps(status));
    else publish(name);
  };

  // Keys keep the time they were first sent, so a step resumed after a day-long outage knows not to trust them.
  // The same onboarding identity (`onboarding/<externalId>`: same keys) may have written in an earlier run,
  // so a key is never younger than the first write this run can prove: `options.firstIssuedAt` (carried by
  // the customer workflow), else nothing is provable once Layers shows an earlier run's org (floor 0), and a
  // reset run (its run id differs from the one its start event recorded) may re-send keys the original run
  // sent after the reset point, long ago.
  const keyIssuedAt = new Map<string, number>(Object.entries(carried?.keyIssuedAt ?? {}));
  const isResetRun =
    workflowInfo().runId !== workflowInfo().originalExecutionRunId &&
    !workflowInfo().continuedFromExecutionRunId;
  let issuedFloor: number | undefined = carried
    ? carried.issuedFloor
    : (options.firstIssuedAt ?? (isResetRun ? 0 : undefined));
  let firstIssuedAt: number | undefined = carried ? carried.firstIssuedAt : options.firstIssuedAt;
  if (firstIssuedAt !== undefined) status.firstIssuedAt = firstIssuedAt;
  const keyFor = (name: string, generation = 0) => {
    const id = `${name}#${generation}`;
    if (!keyIssuedAt.has(id))
      keyIssuedAt.set(id, v2 && issuedFloor !== undefined ? Math.min(Date.now(), issuedFloor) : Date.now());
    return {
      idempotencyKey: idempotencyKey(workflowId, name, generation),
      keyIssuedAt: keyIssuedAt.get(id)!,
    };
  };
  const write = (summary: string): ActivityOptions => ({ ...writeOptions, summary });
  const lookThenWrite = (summary: string): ActivityOptions =>
    v2 ? { ...lookupOptions, summary } : write(summary);

  // What the steps produced, so that a continued run skips them.
  const done: Omit<
    OnboardingContinuation,
    'input' | 'steps' | 'keyIssuedAt' | 'runs' | 'allocateGeneration' | 'issuedFloor' | 'firstIssuedAt'
  > = {
    ...(carried?.orgId ? { orgId: carried.orgId } : {}),
    ...(carried?.apiKey ? { apiKey: carried.apiKey } : {}),
    ...(carried?.allocation ? { allocation: carried.allocation } : {}),
    ...(carried?.firehoseEndpointId ? { firehoseEndpointId: carried.firehoseEndpointId } : {}),
    ...(carried?.projectId ? { projectId: carried.projectId } : {}),
  };
  const isDone = (name: OnboardingStepName) =>
    carried !== undefined &&
    step(name).state !== 'pending' &&
    step(name).state !== 'running' &&
    step(name).state !== 'waiting';
  let generation = carried?.allocateGeneration ?? 0;
  let waitRounds = 0;
  /** A long wait adds events every round: past a bound (or when Temporal suggests it), start afresh with the same keys. */
  async function continueIfHistoryLong(): Promise<void> {
    if (!v2) return;
    waitRounds++;
    if (waitRounds < waitRoundsPerRun && !workflowInfo().continueAsNewSuggested) return;
    await continueAsNew<typeof onboardCustomer>(request, {
      ...options,
      continued: {
        input,
        steps: status.steps,
        firstIssuedAt,
        issuedFloor,
        keyIssuedAt: Object.fromEntries(keyIssuedAt),
        allocateGeneration: generation,
        ...done,
        runs: (carried?.runs ?? 0) + 1,
        ...(orgWanted ? { orgWanted } : {}),
      },
    });
  }
  const read = (summary: string): ActivityOptions => ({ ...readOptions, summary });

  async function waitWhileKillSwitchOn(name: OnboardingStepName): Promise<void> {
    status.state = 'waiting';
    status.waitingFor = 'blocked: kill switch';
    mark(name, 'waiting', 'blocked: kill switch');
    publish('blocked-kill-switch');
    let backoff = killSwitchBackoff.initial;
    for (;;) {
      await condition(() => stopRequested !== undefined, backoff);
      stopIfRequested();
      const check = await reads.preflight.executeWithOptions(read('Re-check the kill switch'), []);
      if (!check.blocked) break;
      backoff = Math.min(backoff * 2, killSwitchBackoff.max);
      await continueIfHistoryLong();
    }
    status.state = 'running';
    status.waitingFor = undefined;
    mark(name, 'running');
    if (lean) publish(status.orgId ? 'provisioning' : 'preflight');
  }

  /** Runs one step; a kill switch parks it durably and runs it again once cleared. */
  async function runStep<T>(
    name: OnboardingStepName,
    body: () => Promise<T>,
    describe: (value: T) => string,
  ): Promise<T> {
    stopIfRequested();
    mark(name, 'running');
    for (;;) {
      try {
        const value = await body();
        mark(name, 'done', describe(value));
        return value;
      } catch (err) {
        if (failureType(err) === 'LayersKillSwitchError') {
          await waitWhileKillSwitchOn(name);
          continue;
        }
        throw err;
      }
    }
  }

  // --- the steps (each used by both shapes) -------------------------------------------------------------

  const preflightStep = () =>
    runStep(
      'preflight',
      async () => {
        const first = await reads.preflight.executeWithOptions(
          read('whoami: check org:admin and the kill switch'),
          [],
        );
        if (first.blocked) {
          await waitWhileKillSwitchOn('preflight');
        }
        return first;
      },
      (p) => `tier ${p.rateLimitTier}`,
    );

  async function createOrgStep(): Promise<string> {
    const provablyYoung = firstIssuedAt !== undefined;
    const { orgId } = await runStep(
      'create-org',
      async () => {
        const created = await writes.createChildOrganization.executeWithOptions(
          lookThenWrite(`Create the child org for ${externalId}`),
          [
            {
              ...keyFor('create-org'),
              workflowId,
              externalId,
              name: input.customer.name,
              metadata: input.customer.metadata,
              billingEmail: input.customer.billingEmail,
              // Without a proof that this identity first wrote recently, an earlier run (failed, reset, or gone
              // from Temporal) may have made the org: look first (the worker's child index keeps this cheap).
              reconcile: options.reconcile || (v2 && !provablyYoung),
            },
          ],
        );
        if (v2) {
          // An org an earlier run made: the keys of every later step may be past the window.
          if (created.reconciled && !provablyYoung) issuedFloor = 0;
          firstIssuedAt ??= created.reconciled ? undefined : Date.now();
          status.firstIssuedAt = firstIssuedAt;
        }
        return created;
      },
      (r) => (r.reconciled ? `${r.orgId} (found existing)` : r.orgId),
    );
    done.orgId = orgId;
    status.orgId = orgId;
    if (lean) {
      // One upsert carries the org to visibility; the customer hears of it only if it asked (a pause waiting for it).
      publish('provisioning');
      if (orgWanted || !options.reportOrgWhenAsked) await tellCustomerTheOrg();
    } else {
      publish('create-org');
      // No `firstIssuedAt` for the customer to carry: a later run of the customer cannot prove on Layers'
      // clock that its keys are younger than the idempotency window, so it looks before it writes.
      await tellCustomerTheOrg();
    }
    return orgId;
  }

  const keyName = input.apiKey.name ?? `${externalId}-integration`.slice(0, 120);
  const mintKeyStep = (orgId: string) =>
    runStep(
      'mint-key',
      () =>
        writes.mintChildApiKey.executeWithOptions(lookThenWrite(`Mint the child API key for ${externalId}`), [
          {
            ...keyFor('mint-key'),
            orgId,
            externalId,
            name: keyName,
            scopes: input.apiKey.scopes,
            ...(v2 ? { workflowId } : {}),
          },
        ]),
      (k) => `${k.id} (${k.prefix}…)${'adopted' in k && k.adopted ? ' (found existing)' : ''}`,
    );

  const allocateStep = (orgId: string) =>
    runStep(
      'allocate-credits',
      async () => {
        for (;;) {
          try {
            return await writes.allocateCredits.executeWithOptions(
              lookThenWrite(`Allocate ${input.credits} credits to ${externalId}`),
              [
                {
                  ...keyFor('allocate-credits', generation),
                  orgId,
                  workflowId,
                  externalId,
                  credits: input.credits,
                },
              ],
            );
          } catch (err) {
            if (failureType(err) !== 'LayersInsufficientFundsError') throw err;
          }
          // A stored 402 replays as 402, so once the wallet is topped up the next attempt needs a new key;
          // the 402 moved nothing, so the new key cannot fund twice.
          status.state = 'waiting';
          status.waitingFor = 'waiting for funds';
          mark('allocate-credits', 'waiting', `waiting for funds: parent wallet short of ${input.credits}`);
          publish('waiting-for-funds');
          // The customer workflow tells the CRM (a lifecycle event); a parent already gone is no reason to fail.
          const customerRun = workflowInfo().parent;
          if (customerRun && (lean || patched('crm-lifecycle-events'))) {
            await getExternalWorkflowHandle(customerRun.workflowId)
              .signal(onboardingWaitingSignal, { waitingFor: 'funds' })
              .catch(() => undefined);
          }
          for (;;) {
            const seen = fundedSignals;
            await condition(() => fundedSignals > seen || stopRequested !== undefined, fundsRecheckMs);
            stopIfRequested();
            if (fundedSignals > seen) break;
            const parent = await reads.preflight.executeWithOptions(read('Re-check the parent wallet'), []);
            if (parent.creditBalance >= input.credits) break;
            await continueIfHistoryLong();
          }
          generation++;
          status.state = 'running';
          status.waitingFor = undefined;
          mark('allocate-credits', 'running');
          if (lean) publish('provisioning');
        }
      },
      (a) =>
        `${a.transferId}: ${a.allocated} credits${a.replayed ? ' (replayed)' : ''}${a.reconciled ? ' (found on the ledger)' : ''}`,
    );

  async function creditConfigStep(orgId: string): Promise<void> {
    if (isDone('credit-config')) return; // done before this run continued
    if (!input.creditConfig) {
      mark('credit-config', 'skipped');
      return;
    }
    const patch = input.creditConfig;
    await runStep(
      'credit-config',
      () =>
        writes.configureCredits.executeWithOptions(write(`Set cap and auto-refill for ${externalId}`), [
          { orgId, patch, idempotencyKey: keyFor('credit-config').idempotencyKey },
        ]),
      (c) =>
        `cap ${c.monthlyCreditCap ?? 'none'}, refill ${c.autoRefillEnabled ? `${c.refillAmount} below ${c.refillThreshold}` : 'off'}`,
    );
  }

  // The partner firehose is worker configuration (one `all_children` endpoint, ensured on the write queue, or
  // in the lean shape as a local activity: the worker caches it, so it writes once per worker at most); a
  // customer's own URL becomes a child-scoped endpoint inside its org, so it receives only its events.
  const firehoseStep = (orgId: string) => {
    const customerWebhook = input.firehose;
    return runStep(
      'firehose',
      async () => {
        const summary = 'Ensure the partner firehose (LAYERS_FIREHOSE_URL)';
        const partner = lean
          ? await localWrites.ensurePartnerFirehose.executeWithOptions(localWrite(summary), [])
          : await writes.ensurePartnerFirehose.executeWithOptions(write(summary), []);
        const own = customerWebhook
          ? await writes.ensureCustomerWebhook.executeWithOptions(
              write(`Create ${externalId}'s own webhook endpoint inside ${orgId}`),
              [
                {
                  orgId,
                  externalId,
                  url: customerWebhook.url,
                  events: customerWebhook.events,
                  idempotencyKey: keyFor('firehose').idempotencyKey,
                },
              ],
            )
          : undefined;
        return { partner, own };
      },
      ({ partner, own }) =>
        [
          partner.configured
            ? `partner ${partner.endpointId} (${partner.outcome})`
            : 'no partner firehose configured',
          ...(own ? [`own ${own.endpointId}${own.created ? ' (created)' : ' (reused)'}`] : []),
        ].join('; '),
    ).then((endpoints) => endpoints.own?.endpointId ?? endpoints.partner.endpointId);
  };

  /** Histories recorded before the partner firehose ran one parent endpoint per customer URL, on the read queue. */
  async function legacyFirehoseStep(): Promise<string | undefined> {
    if (!input.firehose) {
      mark('firehose', 'skipped');
      return undefined;
    }
    const { url, events } = input.firehose;
    const endpoint = await runStep(
      'firehose',
      () =>
        reads.ensureFirehose.executeWithOptions(read('Ensure the firehose webhook endpoint'), [
          { url, events, idempotencyKey: firehoseIdempotencyKey(url, 'all_children', events) },
        ]),
      (e) => `${e.endpointId}${e.created ? ' (created)' : ' (reused)'}`,
    );
    return endpoint.endpointId;
  }

  async function projectStep(orgId: string): Promise<string | undefined> {
    if (!input.project) {
      mark('project', 'skipped');
      return undefined;
    }
    const project = input.project;
    const { projectId } = await runStep(
      'project',
      async () => {
        const key = keyFor('project');
        const created = await writes.createProject.executeWithOptions(
          write(`Create the first project inside ${orgId}`),
          [
            {
              orgId,
              name: project.name,
              timezone: project.timezone,
              externalId,
              idempotencyKey: key.idempotencyKey,
              ...(v2 ? { keyIssuedAt: key.keyIssuedAt } : {}),
              ...(lean ? { writePointer: false } : {}),
            },
          ],
        );
        // Lean: the org's pointer to the project is a write of its own (one Layers write per paced activity).
        if (lean && !created.reconciled) {
          await writes.recordProjectPointer.executeWithOptions(write(`Point ${orgId} at its first project`), [
            { orgId, projectId: created.projectId },
          ]);
        }
        return created;
      },
      (p) => p.projectId,
    );
    return projectId;
  }

  const verifyStep = (
    orgId: string,
    facts: { transferId: string; apiKeyId: string; projectId: string | undefined },
  ) =>
    runStep(
      'verify',
      () =>
        reads.verifyOnboarding.executeWithOptions(read(`Verify ${orgId} against the request`), [
          {
            orgId,
            expected: {
              name: input.customer.name,
              externalId,
              transferId: facts.transferId,
              credits: input.credits,
              creditConfig: input.creditConfig,
              projectId: facts.projectId,
              apiKeyId: facts.apiKeyId,
              scopes: input.apiKey.scopes,
            },
          },
        ]),
      (v) => `balance ${v.balance}, available ${v.available}`,
    );

  try {
    // Started by the customer workflow, the attributes are already there: no command.
    if (lean && !carried) publish('preflight');
    if (!isDone('preflight')) await preflightStep();
    const orgId = done.orgId ?? (await createOrgStep());
    if (carried && step('allocate-credits').state === 'waiting') generation++;

    const apiKey = done.apiKey ?? (await mintKeyStep(orgId));
    done.apiKey = { id: apiKey.id, prefix: apiKey.prefix, scopes: apiKey.scopes };
    const allocation = done.allocation ?? (await allocateStep(orgId));
    done.allocation = { transferId: allocation.transferId, allocated: allocation.allocated };
    await creditConfigStep(orgId);
    let firehoseEndpointId: string | undefined = done.firehoseEndpointId;
    if (!isDone('firehose')) {
      firehoseEndpointId =
        lean || patched('partner-firehose') ? await firehoseStep(orgId) : await legacyFirehoseStep();
      if (firehoseEndpointId) done.firehoseEndpointId = firehoseEndpointId;
    }
    let projectId: string | undefined = done.projectId;
    if (!isDone('project')) {
      projectId = await projectStep(orgId);
      if (projectId) done.projectId = projectId;
    }

    const verified = await verifyStep(orgId, {
      transferId: allocation.transferId,
      apiKeyId: apiKey.id,
      projectId,
    });

    const result: OnboardingResult = {
      externalId,
      orgId,
      apiKey: { id: apiKey.id, prefix: apiKey.prefix, scopes: apiKey.scopes },
      transferId: allocation.transferId,
      allocated: allocation.allocated,
      balance: verified.balance,
      available: verified.available,
      creditConfig: verified.creditConfig,
      ...(firehoseEndpointId ? { firehoseEndpointId } : {}),
      ...(projectId ? { projectId } : {}),
      verified: true,
    };
    status.state = 'completed';
    status.currentStep = undefined;
    status.result = result;
    publish('completed');
    return result;
  } catch (err) {
    status.state = 'failed';
    status.error = failureMessage(err);
    if (status.currentStep) mark(status.currentStep, 'failed', status.error.split('\n')[0]);
    publish('failed');
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      const cause = err.cause;
      throw ApplicationFailure.create({
        type: cause.type ?? 'OnboardingFailed',
        nonRetryable: true,
        message: `Onboarding ${externalId} failed at ${status.currentStep ?? 'start'}: ${cause.message}`,
        // The first detail names the org and when this onboarding identity first wrote (if provable), so
        // the customer workflow can pass `firstIssuedAt` to the next run.
        details:
          v2 && (status.orgId || firstIssuedAt !== undefined)
            ? [
                {
                  ...((cause.details?.[0] as object | undefined) ?? {}),
                  orgId: status.orgId ?? null,
                  ...(firstIssuedAt !== undefined ? { firstIssuedAt } : {}),
                },
                ...(cause.details?.slice(1) ?? []),
              ]
            : cause.details
              ? [...cause.details]
              : undefined,
      });
    }
    throw err;
  }
}
