import {
  ActivityFailure,
  ApplicationFailure,
  type ActivityOptions,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { defaultActivityOptions as activityOptions, failureMessage, failureType } from './layers-activities';
import { firehoseIdempotencyKey, idempotencyKey } from './idempotency';
import {
  ONBOARDING_STEPS,
  onboardingStatusQuery,
  parentFundedSignal,
  type OnboardingOptions,
  type OnboardingResult,
  type OnboardingStatus,
  type OnboardingStepName,
  type StepStatus,
} from '../common/onboarding-messages';
import { parseOnboardingInput, type OnboardingInput, type OnboardingRequest } from '../common/onboarding-input';
import { layersReadQueue, layersWriteQueue } from '../common/ids';
import { LayersCustomerId, LayersLifecycleState, LayersOnboardingStep, LayersOrgId } from '../common/search-attributes';
import { WorkflowFailureType } from '../common/failure-types';
import { onboardingWaitingSignal, orgCreatedSignal, stopOnboardingSignal } from './internal-messages';

function describeSteps(status: OnboardingStatus): string {
  const rows = status.steps.map((s) => `| ${s.name} | ${s.state} | ${s.detail ?? ''} |`).join('\n');
  const headline = status.waitingFor ? `**${status.waitingFor}**` : `**${status.state}**`;
  return `### Onboarding \`${status.externalId}\` — ${headline}\n\n| step | state | detail |\n|---|---|---|\n${rows}\n${
    status.error ? `\n**Error:** ${status.error}\n` : ''
  }`;
}

export async function onboardCustomer(request: OnboardingRequest, options: OnboardingOptions = {}): Promise<OnboardingResult> {
  const parsed = parseOnboardingInput(request);
  if (!parsed.ok) {
    throw ApplicationFailure.create({
      type: WorkflowFailureType.invalidOnboardingInput,
      nonRetryable: true,
      message: `Invalid onboarding input: ${parsed.errors.join('; ')}`,
    });
  }
  const input: OnboardingInput = parsed.value;
  const { workflowId, taskQueue } = workflowInfo();
  const baseOptions: ActivityOptions = {
    ...activityOptions,
    ...(options.timing?.activityTimeoutMs ? { startToCloseTimeout: options.timing.activityTimeoutMs } : {}),
    ...(options.timing?.retryMaxIntervalMs ? { retry: { ...activityOptions.retry, maximumInterval: options.timing.retryMaxIntervalMs } } : {}),
  };
  const writeOptions: ActivityOptions = { ...baseOptions, taskQueue: layersWriteQueue(taskQueue) };
  const readOptions: ActivityOptions = { ...baseOptions, taskQueue: layersReadQueue(taskQueue) };
  const writes = proxyActivities<Activities>(writeOptions);
  const reads = proxyActivities<Activities>(readOptions);
  const externalId = input.customer.externalId;
  const killSwitchBackoff = options.timing?.killSwitchBackoffMs ?? { initial: 5_000, max: 300_000 };
  const fundsRecheckMs = options.timing?.fundsRecheckMs ?? 300_000;

  const status: OnboardingStatus = {
    externalId,
    state: 'running',
    steps: ONBOARDING_STEPS.map((name): StepStatus => ({ name, state: 'pending' })),
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
    upsertSearchAttributes([
      { key: LayersCustomerId, value: externalId },
      { key: LayersOnboardingStep, value: searchStep },
      ...(status.orgId ? [{ key: LayersOrgId, value: status.orgId }] : []),
      {
        key: LayersLifecycleState,
        value: status.state === 'completed' ? 'active' : status.state === 'failed' ? 'failed' : 'onboarding',
      },
    ]);
    setCurrentDetails(describeSteps(status));
  };
  const mark = (name: OnboardingStepName, state: StepStatus['state'], detail?: string) => {
    Object.assign(step(name), { state, ...(detail !== undefined ? { detail } : {}) });
    if (state === 'running') status.currentStep = name;
    publish(name);
  };

  // Keys keep the time they were first sent, so a step resumed after a day-long outage knows not to trust them.
  const keyIssuedAt = new Map<string, number>();
  const keyFor = (name: string, generation = 0) => {
    const id = `${name}#${generation}`;
    if (!keyIssuedAt.has(id)) keyIssuedAt.set(id, Date.now());
    return { idempotencyKey: idempotencyKey(workflowId, name, generation), keyIssuedAt: keyIssuedAt.get(id)! };
  };
  const write = (summary: string): ActivityOptions => ({ ...writeOptions, summary });
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
    }
    status.state = 'running';
    status.waitingFor = undefined;
    mark(name, 'running');
  }

  /** Runs one step; a kill switch parks it durably and runs it again once cleared. */
  async function runStep<T>(name: OnboardingStepName, body: () => Promise<T>, describe: (value: T) => string): Promise<T> {
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

  try {
    await runStep(
      'preflight',
      async () => {
        const first = await reads.preflight.executeWithOptions(read('whoami: check org:admin and the kill switch'), []);
        if (first.blocked) {
          await waitWhileKillSwitchOn('preflight');
        }
        return first;
      },
      (p) => `tier ${p.rateLimitTier}`,
    );

    const { orgId } = await runStep(
      'create-org',
      () =>
        writes.createChildOrganization.executeWithOptions(write(`Create the child org for ${externalId}`), [
          {
            ...keyFor('create-org'),
            workflowId,
            externalId,
            name: input.customer.name,
            metadata: input.customer.metadata,
            billingEmail: input.customer.billingEmail,
            reconcile: options.reconcile,
          },
        ]),
      (r) => (r.reconciled ? `${r.orgId} (found existing)` : r.orgId),
    );
    status.orgId = orgId;
    publish('create-org');
    const parent = workflowInfo().parent;
    if (parent) await getExternalWorkflowHandle(parent.workflowId).signal(orgCreatedSignal, { orgId });

    const keyName = input.apiKey.name ?? `${externalId}-integration`.slice(0, 120);
    const apiKey = await runStep(
      'mint-key',
      () =>
        writes.mintChildApiKey.executeWithOptions(write(`Mint the child API key for ${externalId}`), [
          { ...keyFor('mint-key'), orgId, externalId, name: keyName, scopes: input.apiKey.scopes },
        ]),
      (k) => `${k.id} (${k.prefix}…)`,
    );

    let generation = 0;
    const allocation = await runStep(
      'allocate-credits',
      async () => {
        for (;;) {
          try {
            return await writes.allocateCredits.executeWithOptions(write(`Allocate ${input.credits} credits to ${externalId}`), [
              { ...keyFor('allocate-credits', generation), orgId, workflowId, externalId, credits: input.credits },
            ]);
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
          if (customerRun && patched('crm-lifecycle-events')) {
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
          }
          generation++;
          status.state = 'running';
          status.waitingFor = undefined;
          mark('allocate-credits', 'running');
        }
      },
      (a) => `${a.transferId}: ${a.allocated} credits${a.replayed ? ' (replayed)' : ''}`,
    );

    if (input.creditConfig) {
      const patch = input.creditConfig;
      await runStep(
        'credit-config',
        () =>
          writes.configureCredits.executeWithOptions(write(`Set cap and auto-refill for ${externalId}`), [
            { orgId, patch, idempotencyKey: keyFor('credit-config').idempotencyKey },
          ]),
        (c) => `cap ${c.monthlyCreditCap ?? 'none'}, refill ${c.autoRefillEnabled ? `${c.refillAmount} below ${c.refillThreshold}` : 'off'}`,
      );
    } else mark('credit-config', 'skipped');

    // --- firehose (issue 14, security) -------------------------------------------------------------------
    // The partner firehose is worker configuration (one `all_children` endpoint, ensured on the write queue);
    // a customer's own URL becomes a child-scoped endpoint inside its org, so it receives only its events.
    // Histories recorded before run the old step (one parent endpoint per customer URL, on the read queue).
    let firehoseEndpointId: string | undefined;
    if (patched('partner-firehose')) {
      const customerWebhook = input.firehose;
      const endpoints = await runStep(
        'firehose',
        async () => {
          const partner = await writes.ensurePartnerFirehose.executeWithOptions(write('Ensure the partner firehose (LAYERS_FIREHOSE_URL)'), []);
          const own = customerWebhook
            ? await writes.ensureCustomerWebhook.executeWithOptions(write(`Create ${externalId}'s own webhook endpoint inside ${orgId}`), [
                { orgId, externalId, url: customerWebhook.url, events: customerWebhook.events, idempotencyKey: keyFor('firehose').idempotencyKey },
              ])
            : undefined;
          return { partner, own };
        },
        ({ partner, own }) =>
          [
            partner.configured ? `partner ${partner.endpointId} (${partner.outcome})` : 'no partner firehose configured',
            ...(own ? [`own ${own.endpointId}${own.created ? ' (created)' : ' (reused)'}`] : []),
          ].join('; '),
      );
      firehoseEndpointId = endpoints.own?.endpointId ?? endpoints.partner.endpointId;
    } else if (input.firehose) {
      const { url, events } = input.firehose;
      const endpoint = await runStep(
        'firehose',
        () =>
          reads.ensureFirehose.executeWithOptions(read('Ensure the firehose webhook endpoint'), [
            { url, events, idempotencyKey: firehoseIdempotencyKey(url, 'all_children', events) },
          ]),
        (e) => `${e.endpointId}${e.created ? ' (created)' : ' (reused)'}`,
      );
      firehoseEndpointId = endpoint.endpointId;
    } else mark('firehose', 'skipped');
    // --- end firehose --------------------------------------------------------------------------------------

    let projectId: string | undefined;
    if (input.project) {
      const project = input.project;
      ({ projectId } = await runStep(
        'project',
        () =>
          writes.createProject.executeWithOptions(write(`Create the first project inside ${orgId}`), [
            { orgId, name: project.name, timezone: project.timezone, externalId, idempotencyKey: keyFor('project').idempotencyKey },
          ]),
        (p) => p.projectId,
      ));
    } else mark('project', 'skipped');

    const verified = await runStep(
      'verify',
      () =>
        reads.verifyOnboarding.executeWithOptions(read(`Verify ${orgId} against the request`), [
          {
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
          },
        ]),
      (v) => `balance ${v.balance}, available ${v.available}`,
    );

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
        details: cause.details ? [...cause.details] : undefined,
      });
    }
    throw err;
  }
}
