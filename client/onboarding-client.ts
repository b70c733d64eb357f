import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, RetryState, type Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../common/codec/data-converter';
import { loadTemporalConfig, temporalConnectionOptions, type TemporalConfig } from '../common/connection';
import { clientTracingInterceptors } from '../common/tracing';
import { customerLifecycle, type onboardCustomer } from '../workflows';
import {
  parseLifecycleRequest,
  reactivateRequestSchema,
  type ChurnRequest,
  type LifecycleRequestKind,
  type LifecycleRequests,
  type PauseRequest,
  type ResumeRequest,
} from '../common/lifecycle-input';
import {
  churnSignal,
  churnUpdate,
  customerStatusQuery,
  pauseSignal,
  pauseUpdate,
  reactivateSignal,
  resumeSignal,
  resumeUpdate,
  type CustomerStatus,
  type CustomerWorkflowInput,
  type CustomerWorkflowTiming,
  type LifecycleState,
  type ReactivateRequest,
} from '../common/lifecycle-messages';
import {
  NO_ONBOARDING_IN_THIS_RUN,
  ONBOARDING_RESULT_UPDATE_ID,
  onboardingResultUpdate,
  onboardingStatusQuery,
  parentFundedSignal,
  type OnboardingResult,
  type OnboardingStatus,
} from '../common/onboarding-messages';
import {
  describeIssues,
  externalIdSchema,
  parseOnboardingInput,
  type OnboardingRequest,
} from '../common/onboarding-input';
import { LayersCustomerId, LayersLifecycleState } from '../common/search-attributes';
import { listCustomersPage, MAX_PAGE_SIZE, type CustomerListing } from './list-customers';
import {
  CustomerArchivedError,
  InvalidInputError,
  LifecycleRequestRefusedError,
  OnboardingConflictError,
} from './errors';
import {
  MEMO_IDEMPOTENCY_KEY,
  MEMO_REQUEST_HASH,
  differingFields,
  requestHash,
} from '../common/request-hash';
import { checkFreeText, checkFreeTextDeep, findKeyMaterial } from '../common/key-material';
import { checkWebhookUrl } from '../common/webhook-url';
import { customerWorkflowId, onboardingWorkflowId } from '../common/ids';
import { type OnboardingOptions } from '../common/onboarding-messages';

/** An event id as the gateway takes an Idempotency-Key: 1-200 printable ASCII characters. */
const EVENT_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

export interface StartedOnboarding {
  externalId: string;
  workflowId: string;
  runId: string;
  /** False when a run for this customer was already going: the call attached to it instead. */
  started: boolean;
}

/**
 * The CRM-facing library. Ids are derived from the customer's externalId, so the CRM never stores
 * Temporal ids: starting the same customer twice reaches the same workflow and never makes a second org.
 */
export class OnboardingClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  /**
   * Connects with the payload codec when TEMPORAL_CODEC_KEYS (or _FILE) is set — the same keys as the
   * workers — so inputs, results, summaries and failures are encrypted before they leave the process.
   */
  static async connect(
    config: TemporalConfig = loadTemporalConfig(),
    dataConverter: DataConverter | undefined = dataConverterFromEnv(),
  ): Promise<OnboardingClient> {
    const connection = await Connection.connect(temporalConnectionOptions(config));
    // With tracing set up in this process (common/tracing.ts), starts, signals and updates carry the trace.
    const interceptors = clientTracingInterceptors();
    return new OnboardingClient(
      new Client({ connection, namespace: config.namespace, dataConverter, interceptors }),
      config.taskQueue,
    );
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /**
   * Validates, then starts the customer's workflow, which onboards it (or attaches to the run already
   * going for this customer).
   */
  async start(
    request: OnboardingRequest,
    options: Omit<OnboardingOptions, 'reconcile'> & {
      lifecycle?: CustomerWorkflowTiming;
      /**
       * The CRM's event id for this request (the gateway's Idempotency-Key): kept in the customer's memo
       * with the body's hash. Same body again → attached; a different body → OnboardingConflictError.
       */
      eventId?: string;
    } = {},
  ): Promise<StartedOnboarding> {
    return this.startCustomer(request, options, false);
  }

  private async startCustomer(
    request: OnboardingRequest,
    options: Parameters<OnboardingClient['start']>[1] & object,
    retried: boolean,
  ): Promise<StartedOnboarding> {
    const parsed = parseOnboardingInput(request);
    if (!parsed.ok) throw new InvalidInputError(parsed.errors);
    if (options.eventId !== undefined && !EVENT_ID_PATTERN.test(options.eventId))
      throw new InvalidInputError(['eventId: must be 1-200 printable ASCII characters']);
    const secrets = findKeyMaterial(request);
    if (secrets.length) {
      throw new InvalidInputError(
        secrets.map((field) => `${field}: looks like a Layers secret; secrets never go into workflow input`),
      );
    }
    // A customer's own URL becomes a child-scoped endpoint: no private, loopback or credentialed targets.
    const urlError = parsed.value.firehose
      ? checkWebhookUrl(parsed.value.firehose.url, 'firehose.url')
      : undefined;
    if (urlError) throw new InvalidInputError([urlError]);
    const input = parsed.value;
    const externalId = input.customer.externalId;
    const workflowId = customerWorkflowId(externalId);
    const { lifecycle, eventId, ...onboardingOptions } = options;
    const hash = requestHash(input);
    // One round trip: the start fails when the id is taken (running, or archived: archival is terminal, a
    // customer that comes back gets a new externalId). Failed, cancelled or terminated runs may be followed by
    // a new one, which looks on Layers before it writes (the org an earlier run made is found, not made twice).
    const handle = await this.client.workflow
      .start(customerLifecycle, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [{ externalId, onboarding: { request: input, options: onboardingOptions }, timing: lifecycle }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        typedSearchAttributes: [
          { key: LayersCustomerId, value: externalId },
          // Set here, so that the workflow's first task writes nothing to visibility.
          { key: LayersLifecycleState, value: 'onboarding' },
        ],
        memo: { [MEMO_REQUEST_HASH]: hash, ...(eventId ? { [MEMO_IDEMPOTENCY_KEY]: eventId } : {}) },
        staticSummary: `Customer ${input.customer.name} (${externalId})`,
        staticDetails: `Lifecycle of CRM customer \`${externalId}\`: onboarding with ${input.credits} credits${
          input.creditConfig ? ', cap and auto-refill' : ''
        }${input.firehose ? ', firehose' : ''}${input.project ? ', first project' : ''}; then pause, resume and churn from the CRM.`,
      })
      .catch((err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
        throw err;
      });
    if (handle) return { externalId, workflowId, runId: handle.firstExecutionRunId, started: true };
    // Taken: a twin's start won, or an earlier request's run is going (or archived). Attach only to the same body.
    const current = await this.client.workflow.getHandle(workflowId).describe();
    if (current.status.name === 'COMPLETED') throw new CustomerArchivedError(externalId);
    // It ended (failed, terminated) between the refused start and the describe: a new start is allowed.
    if (current.status.name !== 'RUNNING' && !retried) return this.startCustomer(request, options, true);
    if (current.status.name !== 'RUNNING') throw new CustomerArchivedError(externalId);
    await this.checkSameOnboarding(current, input, hash);
    return { externalId, workflowId, runId: current.runId, started: false };
  }

  /**
   * The running customer was started with this very body, or the call refuses to attach. Runs started
   * without the memo (older clients) are compared by the request in their start event.
   */
  private async checkSameOnboarding(
    description: WorkflowExecutionDescription,
    input: OnboardingRequest,
    hash: string,
  ): Promise<void> {
    const externalId = input.customer.externalId;
    const memoHash = description.memo?.[MEMO_REQUEST_HASH] as string | undefined;
    if (memoHash === hash) return;
    const startInput =
      memoHash === undefined ? await this.startInput(description.workflowId, description.runId) : undefined;
    const stored = startInput?.onboarding?.request;
    if (memoHash === undefined && stored !== undefined && requestHash(stored) === hash) return;
    if (stored === undefined && memoHash === undefined) {
      throw new OnboardingConflictError(
        externalId,
        ['(body)'],
        startInput?.carried
          ? `customer ${externalId} exists and its onboarding request is no longer on record (the workflow continued as new); nothing was started`
          : `customer ${externalId} is managed without an onboarding request (adopted from Layers by a lifecycle request); nothing was started`,
        hash,
      );
    }
    // With only the hash on record, the start event still holds the first body: name the fields.
    const first =
      stored ?? (await this.startInput(description.workflowId, description.runId))?.onboarding?.request;
    throw new OnboardingConflictError(
      externalId,
      first !== undefined ? differingFields(first, input) : ['(body)'],
      `customer ${externalId} is already being onboarded (or was) with a different request; nothing was started or attached`,
      hash,
      memoHash ?? (stored !== undefined ? requestHash(stored) : undefined),
    );
  }

  /** The input a run was started with (its first history event; one page of one event). */
  async startInput(workflowId: string, runId: string): Promise<CustomerWorkflowInput | undefined> {
    const page = await this.client.workflowService.getWorkflowExecutionHistory({
      namespace: this.client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads as
      Payload[] | undefined;
    if (!payloads?.length) return undefined;
    return decodeFromPayloadsAtIndex<CustomerWorkflowInput>(
      this.client.options.loadedDataConverter,
      0,
      payloads,
    );
  }

  private checkedExternalId(externalId: string): string {
    const parsed = externalIdSchema.safeParse(externalId);
    if (!parsed.success) throw new InvalidInputError([`externalId: ${parsed.error.issues[0]!.message}`]);
    return externalId;
  }

  /** The onboarding execution (a child of the customer workflow, started moments after it). */
  handle(externalId: string): WorkflowHandle<typeof onboardCustomer> {
    return this.client.workflow.getHandle<typeof onboardCustomer>(
      onboardingWorkflowId(this.checkedExternalId(externalId)),
    );
  }

  customerHandle(externalId: string): WorkflowHandle<typeof customerLifecycle> {
    return this.client.workflow.getHandle<typeof customerLifecycle>(
      customerWorkflowId(this.checkedExternalId(externalId)),
    );
  }

  /**
   * The onboarding run that belongs to the customer's current workflow chain. `onboarding/<id>` may have
   * older runs (a failed customer started again, or a top-level onboarding from before the customer
   * workflow existed): the run is chosen by its parent, never by recency alone. Waits (bounded) for the
   * child to appear, since the customer workflow starts it in its first task.
   */
  private async onboardingHandle(
    externalId: string,
    waitMs = 15_000,
  ): Promise<WorkflowHandle<typeof onboardCustomer>> {
    const workflowId = onboardingWorkflowId(this.checkedExternalId(externalId));
    const customer = await this.customerHandle(externalId)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    const chainFirstRunId = customer?.raw.workflowExecutionInfo?.firstRunId || customer?.runId;
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      const latest = await this.handle(externalId)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
      // No customer workflow at all: a top-level onboarding (started before the customer workflow existed).
      // A running one is the customer's in any case: only one runs per id, and a customer run whose
      // predecessor left it running attaches to it.
      if (
        latest &&
        (!customer || latest.parentExecution?.runId === chainFirstRunId || latest.status.name === 'RUNNING')
      ) {
        return this.client.workflow.getHandle<typeof onboardCustomer>(workflowId, latest.runId);
      }
      if (Date.now() > deadline) {
        throw new WorkflowNotFoundError(
          customer
            ? `customer ${externalId} has no onboarding of its own (it was adopted from Layers, or its onboarding has not started)`
            : `no onboarding for ${externalId}`,
          workflowId,
          undefined,
        );
      }
      // The child usually exists within one workflow task: look again soon, then back off.
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 500)));
    }
  }

  async status(externalId: string): Promise<OnboardingStatus> {
    return (await this.onboardingHandle(externalId)).query(onboardingStatusQuery);
  }

  /** The onboarding's status without waiting for it to exist (an adopted customer has none). */
  async onboardingStatusIfAny(externalId: string): Promise<OnboardingStatus | undefined> {
    try {
      return await (await this.onboardingHandle(externalId, 0)).query(onboardingStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Waits for the customer's onboarding and answers with its result: an update on the customer workflow that
   * completes when the onboarding does (no polling, no describe). Customers whose run has no onboarding of its
   * own (adopted, continued-as-new since, archived, or run by a worker from before the update) answer through
   * the onboarding execution's own result instead. A failed onboarding throws WorkflowFailedError, as the
   * execution's result would.
   */
  async result(externalId: string): Promise<OnboardingResult> {
    try {
      // One id for every caller: a waiting caller that gives up (the gateway's `Prefer: wait`) leaves no
      // update of its own open in the customer (the server caps open updates per run, and a full cap would
      // refuse the CRM's pause and churn); a later call attaches to the same one.
      return await this.customerHandle(externalId).executeUpdate(onboardingResultUpdate, {
        updateId: ONBOARDING_RESULT_UPDATE_ID,
      });
    } catch (err) {
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      const refused =
        err instanceof WorkflowNotFoundError ||
        (cause instanceof ApplicationFailure &&
          // rejected by a run without an onboarding, by a worker without the handler, or the run closed
          // (terminated, reset) while the update was open: the onboarding execution itself knows
          (cause.type === NO_ONBOARDING_IN_THIS_RUN ||
            cause.type === 'ReferenceError' ||
            cause.type === 'AcceptedUpdateCompletedWorkflow'));
      if (!refused) {
        if (cause instanceof ApplicationFailure)
          throw new WorkflowFailedError(cause.message, cause, RetryState.NON_RETRYABLE_FAILURE);
        throw err;
      }
    }
    return (await this.onboardingHandle(externalId)).result();
  }

  /** Tell onboardings waiting for funds that the parent wallet was topped up. */
  async parentFunded(externalId: string): Promise<void> {
    await (await this.onboardingHandle(externalId)).signal(parentFundedSignal);
  }

  // --- lifecycle: pause, resume, churn ------------------------------------------------------------------

  private validated<K extends LifecycleRequestKind>(kind: K, request: unknown): LifecycleRequests[K] {
    const parsed = parseLifecycleRequest(kind, request, Date.now());
    if (!parsed.ok) throw new InvalidInputError(parsed.errors);
    const problems = freeTextProblems(parsed.value);
    if (problems.length) throw new InvalidInputError(problems);
    return parsed.value;
  }

  /** How a lifecycle request starts the customer's workflow when it is not running. */
  customerStartOptions(externalId: string) {
    return {
      workflowId: customerWorkflowId(this.checkedExternalId(externalId)),
      taskQueue: this.taskQueue,
      // No onboarding input: a customer this orchestrator never onboarded is adopted from Layers.
      args: [{ externalId }] as [CustomerWorkflowInput],
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      typedSearchAttributes: [{ key: LayersCustomerId, value: externalId }],
      staticSummary: `Customer ${externalId}`,
    };
  }

  /** Signal-with-start: reaches the customer's workflow whether or not it is running. */
  private async send<K extends LifecycleRequestKind>(
    kind: K,
    externalId: string,
    request: LifecycleRequests[K],
  ): Promise<void> {
    const signal = { pause: pauseSignal, resume: resumeSignal, churn: churnSignal }[kind];
    await this.client.workflow.signalWithStart(customerLifecycle, {
      ...this.customerStartOptions(externalId),
      signal: signal as typeof pauseSignal,
      signalArgs: [request as PauseRequest],
    });
  }

  /** Update-with-start: applies the request and answers with the customer's state afterwards. */
  private async apply<K extends LifecycleRequestKind>(
    kind: K,
    externalId: string,
    request: LifecycleRequests[K],
  ): Promise<CustomerStatus> {
    const update = { pause: pauseUpdate, resume: resumeUpdate, churn: churnUpdate }[kind];
    try {
      return await this.client.workflow.executeUpdateWithStart(update as typeof pauseUpdate, {
        args: [request as PauseRequest],
        startWorkflowOperation: new WithStartWorkflowOperation(
          customerLifecycle,
          this.customerStartOptions(externalId),
        ),
      });
    } catch (err) {
      // The workflow's answer (a refusal, or a validator's rejection): one readable error.
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause;
        const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
        throw new LifecycleRequestRefusedError(externalId, kind, cause?.message ?? err.message, type, cause);
      }
      throw err;
    }
  }

  async pause(externalId: string, request: PauseRequest): Promise<void> {
    await this.send('pause', externalId, this.validated('pause', request));
  }
  async resume(externalId: string, request: ResumeRequest): Promise<void> {
    await this.send('resume', externalId, this.validated('resume', request));
  }
  async churn(externalId: string, request: ChurnRequest): Promise<void> {
    await this.send('churn', externalId, this.validated('churn', request));
  }
  async pauseAndWait(externalId: string, request: PauseRequest): Promise<CustomerStatus> {
    return this.apply('pause', externalId, this.validated('pause', request));
  }
  async resumeAndWait(externalId: string, request: ResumeRequest): Promise<CustomerStatus> {
    return this.apply('resume', externalId, this.validated('resume', request));
  }
  async churnAndWait(externalId: string, request: ChurnRequest): Promise<CustomerStatus> {
    return this.apply('churn', externalId, this.validated('churn', request));
  }

  /** Cancels a churn whose effectiveAt has not come yet. */
  async reactivate(externalId: string, request: ReactivateRequest): Promise<void> {
    const parsed = reactivateRequestSchema.safeParse(request);
    if (!parsed.success) throw new InvalidInputError(describeIssues(parsed.error));
    const problems = freeTextProblems(parsed.data);
    if (problems.length) throw new InvalidInputError(problems);
    await this.customerHandle(externalId).signal(reactivateSignal, parsed.data);
  }

  /**
   * The customer's state. While it onboards, the customer workflow learns the org id only at the end (or when a
   * pause needs it): the onboarding's own status supplies it as soon as the org exists.
   */
  async customerStatus(externalId: string): Promise<CustomerStatus> {
    const status = await this.customerHandle(externalId).query(customerStatusQuery);
    if (status.state !== 'onboarding' || status.orgId) return status;
    const onboarding = await this.onboardingStatusIfAny(externalId).catch(() => undefined);
    return onboarding?.orgId ? { ...status, orgId: onboarding.orgId } : status;
  }

  /** The customer's final state once it is archived (or its failure). */
  async customerResult(externalId: string): Promise<CustomerStatus> {
    return this.customerHandle(externalId).result();
  }

  /**
   * Customers by lifecycle state, from Temporal's visibility store (search attributes), every page. Reads
   * only the search attributes: a run whose memo this client cannot decode (another codec key) still lists.
   */
  async list(filter: { state?: LifecycleState } = {}): Promise<CustomerListing[]> {
    const out: CustomerListing[] = [];
    let cursor: string | undefined;
    do {
      const page = await listCustomersPage(this.client, { ...filter, limit: MAX_PAGE_SIZE, cursor });
      out.push(...page.customers);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }
}

export { WorkflowExecutionAlreadyStartedError };

/** Reasons and every other string of a lifecycle request reach history and the Web UI: no key material. */
function freeTextProblems(request: { reason: string }): string[] {
  const reason = checkFreeText(request.reason, 'reason', { maxLength: 500 });
  return reason ? [reason] : checkFreeTextDeep(request, 'request');
}
