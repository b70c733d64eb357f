import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import type { OnboardingClient } from '../client/onboarding-client';
import { customerWorkflowId, onboardingWorkflowId } from '../common/ids';
import { listExecutionsPage } from '../common/visibility';
import type { LifecycleRequestKind, LifecycleRequests, ReactivateRequest } from '../common/lifecycle-input';
import {
  churnUpdate,
  customerStatusQuery,
  pauseUpdate,
  reactivateSignal,
  resumeUpdate,
  type CustomerStatus,
  type LifecycleState,
} from '../common/lifecycle-messages';
import type { OnboardingInput } from '../common/onboarding-input';
import type { OnboardingResult, OnboardingStatus } from '../common/onboarding-messages';
import type { customerLifecycle } from '../workflows';
import { conflict } from './idempotency';
import {
  MEMO_IDEMPOTENCY_KEY,
  MEMO_REQUEST_HASH,
  differingFields,
  requestHash,
} from '../common/request-hash';
import { ProblemError, fieldProblems } from './problem';
import { CustomerArchivedError, InvalidInputError, OnboardingConflictError } from '../client/errors';

// The gateway's Temporal side. It wraps the CRM library (OnboardingClient) where the library lacks what
// an HTTP front door needs: a memo with the onboarding body's hash, update ids equal to the caller's
// idempotency key, "accepted" answers that do not wait, and reads of history to tell a repeat from a
// different request under the same key.

/** Memo keys the gateway writes on the customer workflow it starts (read back by describe). */
export { MEMO_IDEMPOTENCY_KEY, MEMO_REQUEST_HASH } from '../common/request-hash';

export interface WorkflowLink {
  kind: 'customer' | 'onboarding' | 'suspend' | 'offboarding' | 'other';
  workflowId: string;
  runId: string;
  status: string;
  url: string;
}

export interface OnboardingAccepted {
  externalId: string;
  customerWorkflowId: string;
  customerRunId: string;
  onboardingWorkflowId: string;
  requestHash: string;
  location: string;
}

export interface OnboardingOutcome {
  state: 'active' | 'failed';
  result?: OnboardingResult;
  error?: string;
}

export interface LifecycleAccepted {
  externalId: string;
  kind: LifecycleRequestKind | 'reactivate';
  eventId: string;
  customerWorkflowId: string;
  location: string;
}

export interface CustomerView {
  externalId: string;
  state: LifecycleState;
  workflowStatus: string;
  currentStep?: string;
  waitingFor?: string;
  orgId?: string;
  orgSuspended: boolean;
  pausedUntil?: string;
  offboardingAt?: string;
  lastError?: string;
  onboarding?: { state: OnboardingStatus['state']; steps: OnboardingStatus['steps'] };
  offboarding?: CustomerStatus['offboarding'];
  transitions: CustomerStatus['transitions'];
  refused: CustomerStatus['refused'];
  workflows: WorkflowLink[];
}

export interface CustomerListPage {
  items: Array<{
    externalId: string;
    state?: string;
    orgId?: string;
    workflowStatus: string;
    location: string;
  }>;
  nextCursor: string | null;
}

const UPDATES = { pause: pauseUpdate, resume: resumeUpdate, churn: churnUpdate } as const;
const SIGNAL_NAMES = ['pause', 'resume', 'churn', 'reactivate'];
const UPDATE_NAMES: Record<string, LifecycleRequestKind> = {
  pauseCustomer: 'pause',
  resumeCustomer: 'resume',
  churnCustomer: 'churn',
};
const EventType = temporal.api.enums.v1.EventType;

export const customerLocation = (externalId: string) => `/v1/customers/${encodeURIComponent(externalId)}`;

export class CustomerService {
  readonly client: Client;

  constructor(
    readonly crm: OnboardingClient,
    private readonly options: { namespace: string; temporalUiUrl: string },
  ) {
    this.client = crm.client;
  }

  uiLink(workflowId: string, runId: string): string {
    return `${this.options.temporalUiUrl}/namespaces/${encodeURIComponent(this.options.namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
  }

  private async describe(
    workflowId: string,
    runId?: string,
  ): Promise<WorkflowExecutionDescription | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId, runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  // --- onboarding ---------------------------------------------------------------------------------------

  /**
   * Starts the customer's workflow with the body's hash in its memo, or finds the one already there.
   * Same body → the same answer (one workflow, one org); a different body for a customer already
   * onboarding or onboarded → 409 naming the fields. A failed run answers the same key with its failure;
   * a new key starts again (and the create step reconciles the org the failed run made).
   */
  async onboard(
    input: OnboardingInput,
    key: string,
  ): Promise<{ accepted: OnboardingAccepted; failed?: string }> {
    const externalId = input.customer.externalId;
    const workflowId = customerWorkflowId(externalId);
    const hash = requestHash(input);
    const previous = await this.describe(workflowId);
    const previousStatus = previous?.status.name;
    if (previousStatus === 'COMPLETED') throw archived(externalId);
    if (previous && previousStatus !== 'RUNNING' && previous.memo?.[MEMO_IDEMPOTENCY_KEY] === key) {
      await this.checkSameOnboarding(previous, input, hash);
      return {
        accepted: this.onboardingAnswer(externalId, previous, hash),
        failed: `the onboarding run ended ${previousStatus}; send a new Idempotency-Key to start it again`,
      };
    }
    // The library's start is the one implementation: memo with the body's hash and the key, USE_EXISTING,
    // and a refusal (not a silent attach) when the running onboarding was asked with another body.
    try {
      await this.crm.start(input, { eventId: key });
    } catch (err) {
      if (err instanceof OnboardingConflictError)
        throw conflict(
          err.message,
          err.fields,
          err.existingRequestHash
            ? { requestHash: err.requestHash, existingRequestHash: err.existingRequestHash }
            : {},
        );
      if (err instanceof CustomerArchivedError) throw archived(externalId);
      if (err instanceof InvalidInputError)
        throw new ProblemError(400, 'invalid-input', err.message, fieldProblems(err.problems));
      throw err;
    }
    const current = (await this.describe(workflowId))!;
    return { accepted: this.onboardingAnswer(externalId, current, hash) };
  }

  private onboardingAnswer(
    externalId: string,
    description: WorkflowExecutionDescription,
    hash: string,
  ): OnboardingAccepted {
    return {
      externalId,
      customerWorkflowId: description.workflowId,
      customerRunId: description.raw.workflowExecutionInfo?.firstRunId || description.runId,
      onboardingWorkflowId: onboardingWorkflowId(externalId),
      requestHash: hash,
      location: customerLocation(externalId),
    };
  }

  private async checkSameOnboarding(
    description: WorkflowExecutionDescription,
    input: OnboardingInput,
    hash: string,
  ): Promise<void> {
    const memoHash = description.memo?.[MEMO_REQUEST_HASH];
    if (memoHash === hash) return;
    // No memo (started by the CLI or library, or a run after continue-as-new): the run's own input.
    const startInput = await this.crm.startInput(description.workflowId, description.runId);
    const stored = startInput?.onboarding?.request;
    if (memoHash === undefined && stored !== undefined && requestHash(stored) === hash) return;
    if (stored === undefined && memoHash === undefined) {
      const fields = startInput?.carried ? ['(body)'] : ['(customer)'];
      throw conflict(
        startInput?.carried
          ? `customer ${input.customer.externalId} exists and its onboarding request is no longer on record (the workflow continued as new); nothing was started`
          : `customer ${input.customer.externalId} is managed without an onboarding request (adopted from Layers by a lifecycle request); nothing was started`,
        fields,
      );
    }
    throw conflict(
      `customer ${input.customer.externalId} is already being onboarded (or was) with a different request; nothing was started`,
      stored !== undefined ? differingFields(stored, input) : ['(body)'],
      { requestHash: hash, existingRequestHash: memoHash ?? requestHash(stored) },
    );
  }

  /** The onboarding's outcome, or undefined if it has not finished within `seconds`. */
  async waitForOnboarding(externalId: string, seconds: number): Promise<OnboardingOutcome | undefined> {
    try {
      const done = await this.withinSeconds(seconds, () => this.crm.result(externalId));
      return done && { state: 'active', result: done.value };
    } catch (err) {
      if (err instanceof WorkflowFailedError)
        return { state: 'failed', error: err.cause?.message ?? err.message };
      throw err;
    }
  }

  /** What `work` answers within `seconds`, or undefined when time is up (the call is then aborted). */
  private async withinSeconds<T>(seconds: number, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), seconds * 1000);
    try {
      return { value: await this.client.withAbortSignal(controller.signal, work) };
    } catch (err) {
      if (controller.signal.aborted) return undefined;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // --- lifecycle ----------------------------------------------------------------------------------------

  /**
   * Update-with-start whose update id is the idempotency key (= the request's eventId): Temporal answers a
   * repeat with the first outcome, the workflow ignores a repeated eventId, and the accepted update in
   * history holds the body that key was first used with. Returns once the update is accepted; with
   * `waitSeconds`, the customer's state once the request was applied (undefined if not within the wait).
   */
  async lifecycle<K extends LifecycleRequestKind>(
    kind: K,
    externalId: string,
    request: LifecycleRequests[K],
    waitSeconds: number,
  ): Promise<{ accepted: LifecycleAccepted; status?: CustomerStatus }> {
    const workflowId = customerWorkflowId(externalId);
    const existing = await this.describe(workflowId);
    if (existing?.status.name === 'COMPLETED') throw archived(externalId);
    // No running workflow: the request starts one that adopts the customer's org, or fails when there is
    // none. That start goes by signal: an update sent with it would wait on a workflow that ends first.
    if (existing?.status.name !== 'RUNNING')
      return this.lifecycleBySignal(kind, externalId, request, waitSeconds);
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof customerLifecycle>(
      'customerLifecycle',
      this.startOptions(externalId),
    );
    let handle;
    try {
      handle = await this.client.workflow.startUpdateWithStart(UPDATES[kind] as typeof pauseUpdate, {
        args: [request as LifecycleRequests['pause']],
        updateId: request.eventId,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
        startWorkflowOperation,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw archived(externalId);
      if (err instanceof WorkflowUpdateFailedError) throw refused(kind, err);
      throw err;
    }
    await this.checkSameUpdate(workflowId, handle.workflowRunId, kind, request);
    const accepted: LifecycleAccepted = {
      externalId,
      kind,
      eventId: request.eventId,
      customerWorkflowId: workflowId,
      location: customerLocation(externalId),
    };
    if (waitSeconds <= 0) return { accepted };
    try {
      const done = await this.withinSeconds(waitSeconds, () => handle.result());
      return done ? { accepted, status: done.value } : { accepted };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw refused(kind, err);
      throw err;
    }
  }

  /** The accepted update with this id in the run's history must carry this very request. */
  private async checkSameUpdate(
    workflowId: string,
    runId: string | undefined,
    kind: string,
    request: { eventId: string },
  ): Promise<void> {
    const first = await this.findInHistory(workflowId, runId, (event) => {
      const attributes = event.workflowExecutionUpdateAcceptedEventAttributes;
      if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED || !attributes)
        return undefined;
      if (attributes.acceptedRequest?.meta?.updateId !== request.eventId) return undefined;
      return {
        name:
          UPDATE_NAMES[attributes.acceptedRequest.input?.name ?? ''] ??
          attributes.acceptedRequest.input?.name ??
          '',
        payloads: attributes.acceptedRequest.input?.args?.payloads as Payload[] | undefined,
      };
    });
    if (first) await this.compareStored(first, kind, request);
  }

  private async compareStored(
    first: { name: string; payloads?: Payload[] },
    kind: string,
    request: { eventId: string },
  ): Promise<void> {
    const stored = first.payloads?.length
      ? await decodeFromPayloadsAtIndex<unknown>(this.client.options.loadedDataConverter, 0, first.payloads)
      : undefined;
    if (first.name === kind && requestHash(stored) === requestHash(request)) return;
    const fields = first.name !== kind ? ['(kind)'] : differingFields(stored, request);
    throw conflict(
      first.name !== kind
        ? `Idempotency-Key ${request.eventId} was first used for a ${first.name} request, not ${kind}`
        : `Idempotency-Key ${request.eventId} was first used with a different ${kind} request (${fields.join(', ')}); the first one stands`,
      fields,
    );
  }

  private async findInHistory<T>(
    workflowId: string,
    runId: string | undefined,
    pick: (event: temporal.api.history.v1.IHistoryEvent) => T | undefined,
  ): Promise<T | undefined> {
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.getWorkflowExecutionHistory({
        namespace: this.options.namespace,
        execution: { workflowId, runId },
        nextPageToken,
      });
      for (const event of page.history?.events ?? []) {
        const found = pick(event);
        if (found !== undefined) return found;
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return undefined;
  }

  private startOptions(externalId: string) {
    return {
      ...this.crm.customerStartOptions(externalId),
      // An archived customer's completed workflow is never started again by a late request.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const,
    };
  }

  /**
   * Signal-with-start for a customer without a running workflow. The workflow ignores a repeated
   * eventId; the first signal that carried the key must be this very request. With a wait, polls until
   * the request shows as applied or refused, or the workflow failed (no such customer in Layers).
   */
  private async lifecycleBySignal<K extends LifecycleRequestKind>(
    kind: K,
    externalId: string,
    request: LifecycleRequests[K],
    waitSeconds: number,
  ): Promise<{ accepted: LifecycleAccepted; status?: CustomerStatus }> {
    const workflowId = customerWorkflowId(externalId);
    let runId: string;
    try {
      const handle = await this.client.workflow.signalWithStart('customerLifecycle', {
        ...this.startOptions(externalId),
        signal: kind,
        signalArgs: [request],
      });
      runId = handle.signaledRunId;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw archived(externalId);
      throw err;
    }
    const first = await this.firstSignalWith(workflowId, runId, request.eventId);
    if (first) await this.compareStored(first, kind, request);
    const accepted: LifecycleAccepted = {
      externalId,
      kind,
      eventId: request.eventId,
      customerWorkflowId: workflowId,
      location: customerLocation(externalId),
    };
    const deadline = Date.now() + waitSeconds * 1000;
    while (waitSeconds > 0) {
      const description = await this.describe(workflowId, runId);
      if (description?.status.name === 'FAILED') {
        throw new ProblemError(
          404,
          'customer-not-found',
          `customer ${externalId} is unknown: it was never onboarded and Layers has no child org with metadata.externalId "${externalId}"; the ${kind} was refused (onboard it first)`,
        );
      }
      const status = await this.client.workflow.getHandle(workflowId, runId).query(customerStatusQuery);
      const seen = (entry: { eventId?: string }) => entry.eventId === request.eventId;
      if (
        status.transitions.some(seen) ||
        status.refused.some(seen) ||
        description?.status.name !== 'RUNNING'
      )
        return { accepted, status };
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { accepted };
  }

  /** Reactivate has no update: a signal with the key as eventId, checked against the first such signal. */
  async reactivate(externalId: string, request: ReactivateRequest): Promise<LifecycleAccepted> {
    const workflowId = customerWorkflowId(externalId);
    const description = await this.describe(workflowId);
    if (!description) throw new ProblemError(404, 'customer-not-found', `no customer ${externalId}`);
    if (description.status.name !== 'RUNNING') throw archived(externalId);
    await this.client.workflow.getHandle(workflowId).signal(reactivateSignal, request);
    // The workflow ignores a repeated eventId; the first signal that carried it is the request that stands.
    const first = await this.firstSignalWith(workflowId, description.runId, request.eventId);
    if (first) await this.compareStored(first, 'reactivate', request);
    return {
      externalId,
      kind: 'reactivate',
      eventId: request.eventId,
      customerWorkflowId: workflowId,
      location: customerLocation(externalId),
    };
  }

  /** The first CRM request signal (pause, resume, churn, reactivate) in the run that carried this eventId. */
  private async firstSignalWith(
    workflowId: string,
    runId: string,
    eventId: string,
  ): Promise<{ name: string; payloads?: Payload[] } | undefined> {
    const candidates: Array<{ name: string; payloads: Payload[] }> = [];
    await this.findInHistory(workflowId, runId, (event) => {
      const attributes = event.workflowExecutionSignaledEventAttributes;
      if (
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
        attributes?.input?.payloads &&
        SIGNAL_NAMES.includes(attributes.signalName ?? '')
      ) {
        candidates.push({ name: attributes.signalName!, payloads: attributes.input.payloads as Payload[] });
      }
      return undefined;
    });
    for (const candidate of candidates) {
      const stored = await decodeFromPayloadsAtIndex<{ eventId?: string } | null>(
        this.client.options.loadedDataConverter,
        0,
        candidate.payloads,
      );
      if (stored?.eventId === eventId) return candidate;
    }
    return undefined;
  }

  // --- reads --------------------------------------------------------------------------------------------

  async customer(externalId: string): Promise<CustomerView> {
    const workflowId = customerWorkflowId(externalId);
    const description = await this.describe(workflowId);
    if (!description)
      throw new ProblemError(
        404,
        'customer-not-found',
        `no customer ${externalId} (nothing was ever started for it)`,
      );
    const [status, onboarding, workflows] = await Promise.all([
      this.crm.customerStatus(externalId),
      this.crm.onboardingStatusIfAny(externalId),
      this.workflowsOf(externalId, description),
    ]);
    return {
      externalId,
      state: status.state,
      workflowStatus: description.status.name,
      currentStep: onboarding?.state === 'completed' ? undefined : onboarding?.currentStep,
      waitingFor: onboarding?.waitingFor,
      orgId: status.orgId ?? onboarding?.orgId,
      orgSuspended: status.orgSuspended,
      pausedUntil: status.pausedUntil,
      offboardingAt: status.offboardingAt,
      lastError: status.error ?? onboarding?.error ?? status.refused.at(-1)?.why,
      onboarding: onboarding ? { state: onboarding.state, steps: onboarding.steps } : undefined,
      offboarding: status.offboarding,
      transitions: status.transitions,
      refused: status.refused,
      workflows,
    };
  }

  private async workflowsOf(
    externalId: string,
    customer: WorkflowExecutionDescription,
  ): Promise<WorkflowLink[]> {
    const links = new Map<string, WorkflowLink>();
    const add = (workflowId: string, runId: string, status: string) => {
      const kind =
        (['customer', 'onboarding', 'suspend', 'offboarding'] as const).find((k) =>
          workflowId.startsWith(`${k}/`),
        ) ?? 'other';
      links.set(`${workflowId}/${runId}`, {
        kind,
        workflowId,
        runId,
        status,
        url: this.uiLink(workflowId, runId),
      });
    };
    add(customer.workflowId, customer.runId, customer.status.name);
    // Children that carry no LayersCustomerId (suspensions) are found by their parent.
    const query = `LayersCustomerId = '${externalId}' OR ParentWorkflowId = '${customerWorkflowId(externalId)}'`;
    for await (const wf of this.client.workflow.list({ query })) {
      add(wf.workflowId, wf.runId, wf.status.name);
      if (links.size >= 50) break;
    }
    return [...links.values()];
  }

  async list(filter: { state?: LifecycleState; cursor?: string; limit: number }): Promise<CustomerListPage> {
    const clauses = [`WorkflowType = 'customerLifecycle'`];
    if (filter.state) clauses.push(`LayersLifecycleState = '${filter.state}'`);
    let nextPageToken: Uint8Array | undefined;
    if (filter.cursor) {
      nextPageToken = Buffer.from(filter.cursor, 'base64url');
      if (nextPageToken.length === 0)
        throw new ProblemError(400, 'invalid-cursor', 'cursor: not a cursor this gateway gave out', [
          { field: 'cursor', message: 'invalid' },
        ]);
    }
    const page = await listExecutionsPage(
      this.client,
      clauses.join(' AND '),
      filter.limit,
      nextPageToken,
    ).catch((err: unknown) => {
      if (filter.cursor && /INVALID_ARGUMENT|invalid/i.test(String((err as Error).message))) {
        throw new ProblemError(400, 'invalid-cursor', 'cursor: not a cursor this gateway gave out', [
          { field: 'cursor', message: 'invalid' },
        ]);
      }
      throw err;
    });
    const items = page.executions.map((execution) => {
      const fields = execution.searchAttributes?.indexedFields ?? {};
      const workflowId = execution.execution?.workflowId ?? '';
      const externalId = keyword(fields.LayersCustomerId) ?? workflowId.replace(/^customer\//, '');
      return {
        externalId,
        state: keyword(fields.LayersLifecycleState),
        orgId: keyword(fields.LayersOrgId),
        workflowStatus:
          temporal.api.enums.v1.WorkflowExecutionStatus[execution.status ?? 0]?.replace(
            'WORKFLOW_EXECUTION_STATUS_',
            '',
          ) ?? 'UNKNOWN',
        location: customerLocation(externalId),
      };
    });
    return {
      items,
      nextCursor: page.nextPageToken ? Buffer.from(page.nextPageToken).toString('base64url') : null,
    };
  }

  /** The Temporal frontend answers (for /readyz). */
  async ready(timeoutMs = 2_000): Promise<boolean> {
    try {
      await this.client.withDeadline(Date.now() + timeoutMs, () =>
        this.client.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }
}

/** A search attribute as visibility returns it: a JSON payload of a string (or a one-element list). */
function keyword(payload: temporal.api.common.v1.IPayload | null | undefined): string | undefined {
  if (!payload?.data) return undefined;
  try {
    const value = JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown;
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' ? first : undefined;
  } catch {
    return undefined;
  }
}

function archived(externalId: string): ProblemError {
  return new ProblemError(
    409,
    'customer-archived',
    `customer ${externalId} was offboarded and its org archived (workflow customer/${externalId} completed); archival is terminal, so a returning customer gets a new externalId`,
  );
}

function refused(kind: string, err: WorkflowUpdateFailedError): ProblemError {
  const message = err.cause?.message ?? err.message;
  return new ProblemError(422, 'request-refused', `${kind}: ${message}`, [{ field: '(body)', message }]);
}
