import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  TemporalFailure,
  TerminatedFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  workflowInfo,
  type ActivityOptions,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { layersActivities, whileKillSwitchWaits } from './layers-activities';
import type {
  ChurnRequest,
  LifecycleRequestKind,
  PauseRequest,
  ResumeRequest,
} from '../common/lifecycle-input';
import { lifecycleInput } from './lazy-modules';
import {
  LIFECYCLE_REQUEST_REFUSED,
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
  type LifecycleState,
} from '../common/lifecycle-messages';
import { offboardCustomer, type OffboardingOutcome } from './offboarding';
import { onboardCustomer } from './onboarding';
import {
  NO_ONBOARDING_IN_THIS_RUN,
  onboardingResultUpdate,
  type OnboardingOptions,
  type OnboardingResult,
} from '../common/onboarding-messages';
import type { OnboardingRequest } from '../common/onboarding-input';
import {
  LayersCustomerId,
  LayersLifecycleState,
  LayersOnboardingStep,
  LayersOrgId,
} from '../common/search-attributes';
import { WorkflowFailureType } from '../common/failure-types';
import type { LifecycleEvent, LifecycleEventType } from '../common/lifecycle-events';
import { uuidV5 } from './idempotency';
import { customerInputProblems, keyMaterialProblems } from '../common/workflow-boundary';
import { suspendCustomer, type SuspendResult } from './suspend';
import { offboardingWorkflowId, onboardingWorkflowId, suspendWorkflowId } from '../common/ids';
import {
  endSuspensionSignal,
  onboardingWaitingSignal,
  orgCreatedSignal,
  orgSuspendedSignal,
  rescheduleOffboardingSignal,
  reportOrgSignal,
  stopOnboardingSignal,
} from './internal-messages';
import { upsertChangedSearchAttributes } from './search-attribute-updates';

const MAX_TRANSITIONS = 20;
const MAX_SEEN_EVENT_IDS = 500;
/** New runs look for an onboarding left running by a terminated earlier run before starting their own. */
const ATTACH_RUNNING_ONBOARDING = 'customer-attach-running-onboarding';
/**
 * New runs start the onboarding child at once (with its search attributes, so it need not write them) and
 * look for a run left behind by an earlier customer run only when the start finds the id taken; they learn
 * the org id from the onboarding's result, or ask the child for it when a pause waits for it. Same id as the
 * onboarding's patch (workflows/onboarding.ts): one shape change, shipped together.
 */
const LEAN_ONBOARDING = 'lean-onboarding';
/** New runs check their input and every request for ids and secrets (see refuseInvalidInput). */
const INPUT_BOUNDARY_PATCH = 'workflow-input-boundary';
const LOOKUP_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};
/** Lifecycle events to the CRM (CRM_EVENTS_URL): the worker says whether, the outbox delivers them in order. */
const CRM_LIFECYCLE_EVENTS = 'crm-lifecycle-events';
/** A CRM that is down for days gets every event once it is back: unlimited attempts, at most a minute apart. */
const CRM_EVENT_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
  },
};
const MAX_CRM_OUTBOX = 1000;

/** The CRM's name for a change of state (the state alone is ambiguous: `active` after `suspended` is a resume). */
function lifecycleEventType(from: LifecycleState | 'new', to: LifecycleState): LifecycleEventType {
  switch (to) {
    case 'onboarding':
      return 'customer.onboarding_started';
    case 'active':
      return from === 'suspended'
        ? 'customer.resumed'
        : from === 'offboarding'
          ? 'customer.reactivated'
          : 'customer.active';
    case 'suspended':
      return from === 'offboarding' ? 'customer.reactivated' : 'customer.paused';
    case 'failed':
      return 'customer.onboarding_failed';
    case 'needs-attention':
      return 'customer.needs_attention';
    case 'offboarding':
      return 'customer.offboarding_scheduled';
    case 'archived':
      return 'customer.offboarded';
  }
}

type Op = (
  | { kind: 'pause'; request: PauseRequest }
  | { kind: 'resume'; request: ResumeRequest }
  | { kind: 'churn'; request: ChurnRequest }
) & {
  done?: boolean;
  /** Set when the request could not be applied: a waiting update answers with it as an error. */
  refusal?: string;
};

/** The onboarding this customer waits for: its own child, or one a terminated earlier run left running. */
interface OnboardingInFlight {
  done: boolean;
  result?: OnboardingResult;
  error?: unknown;
  stop(reason: string): Promise<void>;
  /** Asks the child for the org id (it answers with `orgCreated`); lean children only tell when asked. */
  askForOrg?(): Promise<void>;
}

interface SuspensionInFlight {
  workflowId: string;
  handle: ChildWorkflowHandle<typeof suspendCustomer>;
  confirmed: boolean;
  result?: SuspendResult;
  error?: unknown;
}

interface OffboardingInFlight {
  handle: ChildWorkflowHandle<typeof offboardCustomer>;
  result?: OffboardingOutcome;
  error?: unknown;
}

/** The options that say which onboarding this is (not how to run it): carried across runs and continue-as-new. */
type OnboardingIdentity = Omit<OnboardingOptions, 'reconcile' | 'timing'> & Record<string, unknown>;

function identityOf(options: OnboardingOptions | undefined): OnboardingIdentity | undefined {
  if (!options) return undefined;
  const { reconcile: _reconcile, timing: _timing, ...identity } = options;
  return Object.keys(identity).length ? (identity as OnboardingIdentity) : undefined;
}

/** "Type: message" of the innermost failure (the Layers error under child and activity wrappers). */
function describeFailure(err: unknown): string {
  let inner: unknown = err;
  while ((inner instanceof ChildWorkflowFailure || inner instanceof ActivityFailure) && inner.cause)
    inner = inner.cause;
  if (inner instanceof TerminatedFailure) return 'terminated';
  if (inner instanceof ApplicationFailure) return `${inner.type ?? 'Error'}: ${inner.message}`;
  if (inner instanceof TemporalFailure) return inner.message;
  return inner instanceof Error ? inner.message : String(inner);
}

/**
 * The customer's state and every transition of it. Each CRM request, child result and child failure is
 * one method that ends in a state and, for a request, an answer (nothing, or a refusal); the workflow
 * function below only wires messages to it and runs the loop (the shape of Temporal's
 * safe-message-handlers sample). Requests are applied one at a time in arrival order, so the races
 * between them and the children are all decided here.
 */
class CustomerLifecycle {
  readonly externalId: string;
  readonly status: CustomerStatus;
  readonly seenEventIds: Set<string>;
  readonly queue: Op[] = [];
  private suspensions: number;
  private identity: OnboardingIdentity | undefined;
  onboarding: OnboardingInFlight | undefined;
  onboardingSettled = true;
  suspension: SuspensionInFlight | undefined;
  offboarding: OffboardingInFlight | undefined;
  pendingPause: PauseRequest | undefined;
  pendingChurn: ChurnRequest | undefined;
  private stateBeforeOffboarding: LifecycleState = 'active';
  /** Set once the workflow is ending: later requests are refused at once with this. */
  closing: { why: string; type: string } | undefined;
  private readonly activities = layersActivities();
  /** Look-ups in Temporal itself (not Layers): on the workflow's own task queue. */
  private readonly temporalLookups = proxyActivities<Activities>(LOOKUP_OPTIONS);
  /**
   * Lifecycle events waiting for the CRM, oldest first: one delivery in flight at a time (so the CRM sees
   * them in order), never awaited by a transition (so a CRM that is down never holds the customer up).
   */
  readonly crmOutbox: LifecycleEvent[];
  private crmEventSequence: number;
  private crmEvents = false;
  private readonly crmDelivery = proxyActivities<Activities>(CRM_EVENT_OPTIONS);

  constructor(
    readonly input: CustomerWorkflowInput,
    /** This run took the lean-onboarding patch (and with it every earlier one). */
    readonly lean = false,
  ) {
    this.externalId = input.externalId;
    this.status = input.carried?.status ?? {
      externalId: input.externalId,
      state: input.onboarding ? 'onboarding' : 'active',
      orgSuspended: false,
      churnPending: false,
      transitions: [],
      refused: [],
    };
    this.seenEventIds = new Set(input.carried?.seenEventIds ?? []);
    // Runs from before the counter was carried rebuild it from the (bounded) transition list.
    this.suspensions =
      input.carried?.suspensions ?? this.status.transitions.filter((t) => t.to === 'suspended').length;
    this.identity = input.carried?.onboardingIdentity ?? identityOf(input.onboarding?.options);
    this.crmOutbox = [...(input.carried?.crmOutbox ?? [])];
    this.crmEventSequence = input.carried?.crmEventSequence ?? 0;
  }

  // --- lifecycle events to the CRM ------------------------------------------------------------------

  /**
   * Asks the worker (a local activity: no activity task, one marker) whether CRM_EVENTS_URL is set, and
   * if so starts the delivery loop. Unconfigured workers schedule no delivery at all. Histories from
   * before the patch never ask.
   */
  async enableCrmEvents(): Promise<void> {
    if (!(this.lean || patched(CRM_LIFECYCLE_EVENTS))) return;
    const { crmEventsEnabled } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });
    this.crmEvents = await crmEventsEnabled();
    // Events carried from a run whose worker had a CRM are still delivered (the activity no-ops without one).
    if (this.crmEvents || this.crmOutbox.length > 0) void this.deliverCrmEvents();
  }

  private emit(
    type: LifecycleEventType,
    from: LifecycleState | 'new',
    reason: string,
    extra: Partial<LifecycleEvent> = {},
  ): void {
    if (!this.crmEvents) return;
    const sequence = ++this.crmEventSequence;
    const { workflowId, firstExecutionRunId } = workflowInfo();
    const { status } = this;
    this.crmOutbox.push({
      // The chain's first run id: a customer onboarded again after a failed run gets new ids.
      id: uuidV5(`${workflowId}|${firstExecutionRunId}|crm-event|${sequence}`),
      type,
      sequence,
      occurredAt: this.now(),
      externalId: this.externalId,
      state: status.state,
      previousState: from,
      reason,
      ...(status.orgId ? { orgId: status.orgId } : {}),
      ...extra,
    });
    // A CRM down for very long: the oldest undelivered events give way rather than the history growing.
    if (this.crmOutbox.length > MAX_CRM_OUTBOX) this.crmOutbox.splice(1, 1);
  }

  private async deliverCrmEvents(): Promise<void> {
    for (;;) {
      await condition(() => this.crmOutbox.length > 0);
      const event = this.crmOutbox[0]!;
      try {
        await this.crmDelivery.publishLifecycleEvent.executeWithOptions(
          { ...CRM_EVENT_OPTIONS, summary: `Tell the CRM: ${event.type} (#${event.sequence})` },
          [event],
        );
      } catch (err) {
        // Attempts are unlimited: only a cancelled workflow gets here. Anything else fails the workflow
        // task (visible, retried) rather than silently stopping the CRM's events.
        if (isCancellation(err)) return;
        throw err;
      }
      if (this.crmOutbox[0] === event) this.crmOutbox.shift();
    }
  }

  /** Before the workflow closes: the last events (offboarded, failed) still reach the CRM. */
  async crmEventsDelivered(): Promise<void> {
    if (this.crmEvents) await condition(() => this.crmOutbox.length === 0);
  }

  onboardingWaiting({ waitingFor }: { waitingFor: string }): void {
    if (this.status.state !== 'onboarding') return;
    this.emit('customer.waiting_for_funds', 'onboarding', `onboarding waits for ${waitingFor}`);
  }

  // --- state and its publication ------------------------------------------------------------------

  private now = () => new Date().toISOString();

  private computeState(): LifecycleState {
    const { status, onboarding, offboarding } = this;
    if (status.offboarding) return 'archived';
    if (offboarding && !offboarding.result) return 'offboarding';
    if (onboarding && !onboarding.done) return 'onboarding';
    if (onboarding?.error && !status.orgId) return 'failed';
    if (onboarding?.error && !this.pendingChurn) return 'failed';
    if (status.attention) return 'needs-attention';
    return status.orgSuspended ? 'suspended' : 'active';
  }

  publish(reason: string, eventId?: string): void {
    const { status, externalId } = this;
    const next = this.computeState();
    if (next !== status.state || status.transitions.length === 0) {
      const from = status.transitions.length ? status.state : 'new';
      status.transitions.push({
        at: this.now(),
        from: status.transitions.length ? status.state : 'new',
        to: next,
        reason,
        ...(eventId ? { eventId } : {}),
      });
      if (status.transitions.length > MAX_TRANSITIONS)
        status.transitions.splice(0, status.transitions.length - MAX_TRANSITIONS);
      status.state = next;
      this.emit(lifecycleEventType(from, next), from, reason, {
        ...(eventId ? { requestEventId: eventId } : {}),
        ...(next === 'failed' && status.error ? { error: status.error } : {}),
        ...(next === 'needs-attention' && status.attention ? { error: status.attention } : {}),
        ...(next === 'offboarding' && status.offboardingAt ? { effectiveAt: status.offboardingAt } : {}),
        ...(next === 'archived' && status.offboarding ? { offboarding: status.offboarding } : {}),
      });
    }
    status.churnPending = this.pendingChurn !== undefined;
    upsertChangedSearchAttributes(
      [
        { key: LayersCustomerId, value: externalId },
        { key: LayersLifecycleState, value: status.state },
        ...(status.orgId ? [{ key: LayersOrgId, value: status.orgId }] : []),
      ],
      this.lean,
    );
    const rows = status.transitions
      .slice(-8)
      .map((t) => `| ${t.at} | ${t.from} → ${t.to} | ${t.reason}${t.eventId ? ` (${t.eventId})` : ''} |`)
      .join('\n');
    setCurrentDetails(
      `### Customer \`${externalId}\` — **${status.state}**${status.orgId ? ` · \`${status.orgId}\`` : ''}\n\n` +
        `${status.attention ? `**Needs attention:** ${status.attention}\n\n` : ''}` +
        `${status.pausedUntil ? `Paused until ${status.pausedUntil}. ` : ''}${status.offboardingAt ? `Offboarding at ${status.offboardingAt}. ` : ''}` +
        `${status.churnPending ? 'Churn waiting for onboarding to reach a safe point.' : ''}\n\n| at | transition | why |\n|---|---|---|\n${rows}\n`,
    );
  }

  /** Records a refusal and returns it (a waiting update answers with it). */
  refuse(kind: string, why: string, eventId?: string): string {
    this.status.refused.push({ at: this.now(), kind, why, ...(eventId ? { eventId } : {}) });
    if (this.status.refused.length > MAX_TRANSITIONS) this.status.refused.shift();
    return why;
  }

  private clearAttention(): void {
    this.status.attention = undefined;
  }

  // --- incoming requests ----------------------------------------------------------------------------

  /**
   * Checks and de-duplicates a CRM request: the op to queue, a refusal, or nothing (a repeat). The check
   * is the plain-code one (see checkLifecycleRequest): a replay re-decides it identically.
   */
  accept(kind: LifecycleRequestKind, raw: unknown): { op?: Op; refusal?: string } {
    const eventId = (raw as { eventId?: string } | null)?.eventId;
    if (this.closing) return { refusal: this.refuse(kind, this.closing.why, eventId) };
    const checked = lifecycleInput().checkLifecycleRequest(kind, raw, Date.now());
    if (!checked.ok) return { refusal: this.refuse(kind, checked.errors.join('; '), eventId) };
    const secrets = this.lean || patched(INPUT_BOUNDARY_PATCH) ? keyMaterialProblems(raw, 'request') : [];
    if (secrets.length) return { refusal: this.refuse(kind, secrets.join('; '), eventId) };
    const request = checked.value;
    if (this.seenEventIds.has(request.eventId)) return {};
    this.seenEventIds.add(request.eventId);
    if (this.seenEventIds.size > MAX_SEEN_EVENT_IDS)
      this.seenEventIds.delete(this.seenEventIds.values().next().value as string);
    return { op: { kind, request } as Op };
  }

  /** Update validators run when the update arrives and never on replay, so zod may decide here. */
  validate(kind: LifecycleRequestKind, raw: unknown): void {
    if (this.closing) throw new Error(this.closing.why);
    const parsed = lifecycleInput().parseLifecycleRequest(kind, raw, Date.now());
    if (!parsed.ok) throw new Error(`invalid ${kind} request: ${parsed.errors.join('; ')}`);
    const secrets = keyMaterialProblems(raw, 'request');
    if (secrets.length) throw new Error(`invalid ${kind} request: ${secrets.join('; ')}`);
  }

  signalled(kind: LifecycleRequestKind, raw: unknown): void {
    const { op } = this.accept(kind, raw);
    if (op) this.queue.push(op);
  }

  /** A waited request: the status once it was applied, or its refusal as the update's failure. */
  async requested(kind: LifecycleRequestKind, raw: unknown): Promise<CustomerStatus> {
    const { op, refusal } = this.accept(kind, raw);
    let answer = refusal;
    if (op) {
      this.queue.push(op);
      await condition(() => op.done === true);
      answer = op.refusal;
    }
    if (answer !== undefined) {
      throw ApplicationFailure.create({
        type: this.closing?.type ?? LIFECYCLE_REQUEST_REFUSED,
        nonRetryable: true,
        message: `${kind} of customer ${this.externalId} refused: ${answer}`,
        details: [{ state: this.status.state, orgId: this.status.orgId ?? null }],
      });
    }
    return this.status;
  }

  async reactivate(raw: unknown): Promise<void> {
    const eventId = (raw as { eventId?: string } | null)?.eventId;
    const checked = lifecycleInput().checkLifecycleRequest('reactivate', raw, Date.now());
    if (!checked.ok) return void this.refuse('reactivate', checked.errors.join('; '), eventId);
    const secrets = this.lean || patched(INPUT_BOUNDARY_PATCH) ? keyMaterialProblems(raw, 'request') : [];
    if (secrets.length) return void this.refuse('reactivate', secrets.join('; '), eventId);
    if (this.seenEventIds.has(checked.value.eventId)) return;
    this.seenEventIds.add(checked.value.eventId);
    const offboarding = this.offboarding;
    if (offboarding && !offboarding.result && !offboarding.error) {
      // The offboarding may finish between this decision and the signal: then there is nothing to cancel.
      if (!(await this.signalSafely(() => offboarding.handle.signal(reactivateSignal, checked.value)))) {
        this.refuse('reactivate', 'the offboarding had already finished', eventId);
      }
    } else this.refuse('reactivate', 'no scheduled offboarding to cancel', eventId);
  }

  orgCreated({ orgId, identity }: { orgId: string; identity?: Record<string, unknown> }): void {
    this.status.orgId = orgId;
    if (identity && !this.identity) {
      this.identity = identity as OnboardingIdentity;
      upsertMemo({ onboardingIdentity: identity });
    }
    this.publish('child org created');
  }

  orgSuspended(): void {
    if (this.suspension) this.suspension.confirmed = true;
  }

  /**
   * A signal to a child can race with the child closing; that failure is harmless (the child's result
   * or failure arrives through its own promise and is handled there), so it never fails this workflow.
   */
  private async signalSafely(send: () => Promise<void>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch {
      return false;
    }
  }

  /** Applies one queued request; the answer is a refusal or nothing. */
  async apply(op: Op): Promise<string | undefined> {
    const { status } = this;
    const { eventId } = op.request;
    switch (op.kind) {
      case 'pause':
        if (status.state === 'offboarding' || status.state === 'archived' || status.state === 'failed') {
          return this.refuse('pause', `customer is ${status.state}`, eventId);
        } else if (this.suspension || status.orgSuspended) {
          // Idempotent by state: already paused.
        } else if (status.orgId) {
          return this.startSuspension(op.request);
        } else {
          this.pendingPause = op.request; // applied the moment onboarding creates the org
          const onboarding = this.onboarding;
          if (onboarding?.askForOrg && !onboarding.done && patched(LEAN_ONBOARDING))
            await this.signalSafely(() => onboarding.askForOrg!());
        }
        return undefined;
      case 'resume':
        if (this.pendingPause) this.pendingPause = undefined;
        if (this.suspension) return this.endSuspension(true, op.request.reason, eventId);
        if (
          status.orgSuspended &&
          status.orgId &&
          (status.state === 'active' || status.state === 'suspended' || status.state === 'needs-attention')
        ) {
          // Suspended outside a suspend child (an adopted customer, or one whose suspend child failed).
          return this.resumeDirectly(op.request.reason, eventId);
        }
        if (status.state === 'offboarding' || status.state === 'archived')
          return this.refuse('resume', `customer is ${status.state}`, eventId);
        return undefined;
      case 'churn':
        if (this.offboarding && !this.offboarding.result && !this.offboarding.error)
          return this.bringOffboardingForward(op.request);
        if (status.state === 'archived' || status.state === 'offboarding' || this.pendingChurn)
          return undefined; // already on its way out
        if (this.onboarding && !this.onboarding.done) {
          this.pendingChurn = op.request;
          this.pendingPause = undefined;
          // If onboarding closed meanwhile, its outcome is already on its way and the churn follows it.
          const onboarding = this.onboarding;
          await this.signalSafely(() => onboarding.stop(op.request.reason));
          this.publish(`churn requested during onboarding: ${op.request.reason}`, eventId);
          return undefined;
        }
        return this.beginOffboarding(op.request);
    }
  }

  // --- onboarding -----------------------------------------------------------------------------------

  /**
   * Starts the onboarding child, unless an earlier run of this customer (terminated, say, during a funds
   * wait) left `onboarding/<id>` running: parent-close policy ABANDON keeps it going and it can still move
   * money. Starting another would fail (the id is taken), and stopping it to start afresh would make a
   * second run redo money steps; so the customer attaches to it — it is the one onboarding of this
   * customer — and learns its outcome through an activity that waits for it. A churn still stops it.
   */
  async startOnboarding(onboardingInput: {
    request: OnboardingRequest;
    options?: OnboardingOptions;
  }): Promise<void> {
    const workflowId = onboardingWorkflowId(this.externalId);
    const current: OnboardingInFlight = { done: false, stop: async () => undefined };
    this.onboarding = current;
    this.onboardingSettled = false;
    const settle = (result?: OnboardingResult, error?: unknown) => {
      current.result = result;
      current.error = error;
      current.done = true;
    };
    if (this.lean) {
      if (this.identity) upsertMemo({ onboardingIdentity: this.identity });
      try {
        await this.startOnboardingChild(onboardingInput, current, settle, true);
        return;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      // The id is taken: an earlier run of this customer left its onboarding running. Attach to it (or, if it
      // closed in the meantime, start afresh).
      if (!(await this.attachToRunningOnboarding(workflowId, current, settle)))
        await this.startOnboardingChild(onboardingInput, current, settle, true);
      return;
    }
    if (patched(ATTACH_RUNNING_ONBOARDING)) {
      if (this.identity) upsertMemo({ onboardingIdentity: this.identity });
      if (await this.attachToRunningOnboarding(workflowId, current, settle)) return;
    }
    await this.startOnboardingChild(onboardingInput, current, settle, false);
  }

  /** Looks for a run of `onboarding/<id>` left running and waits for its outcome; false when there is none. */
  private async attachToRunningOnboarding(
    workflowId: string,
    current: OnboardingInFlight,
    settle: (result?: OnboardingResult, error?: unknown) => void,
  ): Promise<boolean> {
    const running = await this.temporalLookups.findRunningOnboarding.executeWithOptions(
      { ...LOOKUP_OPTIONS, summary: `Look for a running onboarding of ${this.externalId}` },
      [{ workflowId }],
    );
    if (running) {
      const external = getExternalWorkflowHandle(workflowId, running.runId);
      current.stop = (reason) => external.signal(stopOnboardingSignal, { reason });
      current.askForOrg = () => external.signal(reportOrgSignal);
      void this.temporalLookups.awaitOnboardingOutcome
        .executeWithOptions(
          {
            ...LOOKUP_OPTIONS,
            startToCloseTimeout: '3650 days',
            heartbeatTimeout: '1 minute',
            summary: `Wait for the onboarding ${workflowId} left running`,
          },
          [{ workflowId, runId: running.runId }],
        )
        .then(
          (outcome) =>
            outcome.ok
              ? settle(outcome.result)
              : settle(
                  undefined,
                  ApplicationFailure.create({
                    type: outcome.type,
                    message: outcome.message,
                    nonRetryable: true,
                    details: [{ orgId: outcome.orgId ?? null }],
                  }),
                ),
          (error: unknown) => settle(undefined, error),
        );
      this.publish(`attached to the onboarding left running by an earlier run (${running.runId})`);
      return true;
    }
    return false;
  }

  private async startOnboardingChild(
    onboardingInput: { request: OnboardingRequest; options?: OnboardingOptions },
    current: OnboardingInFlight,
    settle: (result?: OnboardingResult, error?: unknown) => void,
    lean: boolean,
  ): Promise<void> {
    const options: OnboardingOptions = {
      ...(onboardingInput.options ?? {}),
      ...(this.identity ?? {}),
      ...(lean ? { reportOrgWhenAsked: true } : {}),
    };
    const handle = await startChild(onboardCustomer, {
      workflowId: onboardingWorkflowId(this.externalId),
      args: [onboardingInput.request, options],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Onboard ${onboardingInput.request.customer.name} (${this.externalId})`,
      // What the onboarding would otherwise upsert in its first task (one visibility write saved).
      ...(lean
        ? {
            typedSearchAttributes: [
              { key: LayersCustomerId, value: this.externalId },
              { key: LayersLifecycleState, value: 'onboarding' },
              { key: LayersOnboardingStep, value: 'preflight' },
            ],
          }
        : {}),
    });
    current.stop = (reason) => handle.signal(stopOnboardingSignal, { reason });
    if (lean) current.askForOrg = () => handle.signal(reportOrgSignal);
    void handle.result().then(
      (result) => settle(result),
      (error: unknown) => settle(undefined, error),
    );
    this.publish('onboarding started');
  }

  /** Refuses (nothing recorded) in a run without an onboarding of its own: the library reads the child instead. */
  validateOnboardingResultRequest(): void {
    if (!this.input.onboarding || this.input.carried) {
      throw ApplicationFailure.create({
        type: NO_ONBOARDING_IN_THIS_RUN,
        message: `this run of customer ${this.externalId} has no onboarding of its own`,
      });
    }
  }

  /** The onboarding's result once it has finished; its failure (type, message, details) otherwise. */
  async onboardingResult(): Promise<OnboardingResult> {
    await condition(() => this.onboarding?.done === true);
    const { result, error } = this.onboarding!;
    if (result) return result;
    const cause = error instanceof ChildWorkflowFailure && error.cause ? error.cause : error;
    if (cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({
        type: cause.type ?? 'OnboardingFailed',
        message: cause.message,
        nonRetryable: true,
        details: cause.details ? [...cause.details] : undefined,
      });
    }
    throw ApplicationFailure.create({
      type: 'OnboardingFailed',
      message: cause instanceof Error ? cause.message : String(cause),
      nonRetryable: true,
    });
  }

  async onboardingEnded(): Promise<void> {
    const onboarding = this.onboarding!;
    this.onboardingSettled = true;
    if (onboarding.result) {
      this.status.orgId = onboarding.result.orgId;
      this.publish('onboarding completed');
    } else {
      const err = onboarding.error;
      const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
      const stopped =
        cause instanceof ApplicationFailure && cause.type === WorkflowFailureType.onboardingStopped;
      const details =
        cause instanceof ApplicationFailure
          ? (cause.details?.[0] as { orgId?: string } | undefined)
          : undefined;
      // Failures the onboarding raised name their org (null: none made). Only an onboarding cut off from outside
      // (terminated, timed out) says nothing: then the org, if any, is looked up.
      const saidNothing = !(cause instanceof ApplicationFailure && cause.details?.length);
      if (details?.orgId) this.status.orgId = details.orgId;
      else if (!this.status.orgId && saidNothing && patched(LEAN_ONBOARDING))
        await this.findOrgOfEndedOnboarding();
      if (!stopped) this.status.error = cause instanceof Error ? cause.message : String(cause);
      this.publish(stopped ? 'onboarding stopped at a safe point' : 'onboarding failed');
    }
    if (this.pendingChurn) await this.beginOffboarding(this.pendingChurn);
  }

  /**
   * An onboarding that ended without saying which org it made (terminated, timed out): a lean customer was not
   * told of the org on the way, so it looks on Layers, and a churn still archives what the onboarding made.
   */
  private async findOrgOfEndedOnboarding(): Promise<void> {
    try {
      // A kill switch waits (it is the parent's, and passes); any other failure leaves the org unknown.
      const found = await whileKillSwitchWaits(() => this.findCustomerOrganization(), {
        backoffMs: this.input.timing?.killSwitchBackoffMs,
      });
      if (found) this.status.orgId = found.orgId;
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
  }

  /** The child org whose metadata.externalId is this customer's, paging through the parent's children. */
  private findCustomerOrganization() {
    const { reads, read } = this.activities;
    // Pages through the parent's children (heartbeating): give it time, notice a dead worker by silence.
    return reads.findCustomerOrganization.executeWithOptions(
      {
        ...read(`Find the child org of ${this.externalId}`),
        startToCloseTimeout: '15 minutes',
        heartbeatTimeout: '30 seconds',
      },
      [{ externalId: this.externalId }],
    );
  }

  /** Adopts a customer that exists only in Layers; false when there is nothing to adopt (the run ends). */
  async adopt(): Promise<'adopted' | 'unknown' | 'archived'> {
    const found = await this.findCustomerOrganization();
    if (!found) {
      this.close(
        `customer ${this.externalId} is unknown: no child org with metadata.externalId "${this.externalId}"; onboard it first`,
        WorkflowFailureType.customerNotFound,
      );
      return 'unknown';
    }
    this.status.orgId = found.orgId;
    if (found.status === 'archived') {
      this.status.error = `customer ${this.externalId} is already archived`;
      this.status.offboarding = { archivedAt: this.now(), reclaimedCredits: 0, revokedApiKeys: 0 };
      this.publish('found archived');
      this.close(this.status.error, LIFECYCLE_REQUEST_REFUSED);
      return 'archived';
    }
    this.status.orgSuspended = found.status === 'suspended';
    this.publish('adopted an existing child org');
    return 'adopted';
  }

  /** The workflow is ending: every queued request is answered with `why`, and so is any that arrives. */
  close(why: string, type: string): void {
    this.closing ??= { why, type };
    for (const op of this.queue.splice(0)) {
      op.refusal = this.refuse(op.kind, why, op.request.eventId);
      op.done = true;
    }
  }

  // --- suspension -----------------------------------------------------------------------------------

  async startSuspension(request: PauseRequest): Promise<string | undefined> {
    const workflowId = suspendWorkflowId(this.externalId, ++this.suspensions);
    let handle: ChildWorkflowHandle<typeof suspendCustomer>;
    try {
      handle = await startChild(suspendCustomer, {
        workflowId,
        args: [
          {
            externalId: this.externalId,
            orgId: this.status.orgId!,
            reason: request.reason,
            until: request.until,
            timing: this.input.timing,
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `Suspend ${this.externalId}${request.until ? ` until ${request.until}` : ''}`,
      });
    } catch (err) {
      return this.childFailed(`starting ${workflowId}`, err);
    }
    const current: SuspensionInFlight = { workflowId, handle, confirmed: false };
    this.suspension = current;
    void handle.result().then(
      (result) => {
        current.result = result;
      },
      (error: unknown) => {
        current.error = error;
      },
    );
    await condition(() => current.confirmed || current.result !== undefined || current.error !== undefined);
    if (current.error !== undefined && !current.confirmed) return this.suspensionFailed(current);
    this.clearAttention();
    this.status.orgSuspended = true;
    this.status.pausedUntil = request.until;
    this.publish(`paused: ${request.reason}`, request.eventId);
    return undefined;
  }

  /** Ends the current suspension: `resume` lifts it, otherwise it stays suspended for a churn. */
  private async endSuspension(
    resume: boolean,
    reason: string,
    eventId?: string,
  ): Promise<string | undefined> {
    if (!this.suspension) return undefined;
    const current = this.suspension;
    if (!current.result && current.error === undefined)
      await this.signalSafely(() => current.handle.signal(endSuspensionSignal, { resume, reason }));
    await condition(() => current.result !== undefined || current.error !== undefined);
    if (current.error !== undefined) {
      const refusal = await this.suspensionFailed(current);
      // The suspend child could not lift the pause: lift it here when the org is still there to resume.
      if (resume && this.status.orgSuspended && !this.status.offboarding)
        return this.resumeDirectly(reason, eventId);
      return resume ? refusal : undefined;
    }
    this.suspension = undefined;
    this.status.pausedUntil = undefined;
    if (current.result!.resumed) {
      this.clearAttention();
      this.status.orgSuspended = false;
      this.publish(`resumed: ${reason}`, eventId);
    }
    return undefined;
  }

  suspensionEnded(): void {
    const ended = this.suspension!.result!;
    this.suspension = undefined;
    this.status.pausedUntil = undefined;
    if (ended.resumed) {
      this.status.orgSuspended = false;
      this.publish(`resumed: pause ${ended.endedBy === 'timer' ? 'expired' : 'lifted'}`);
    }
  }

  async suspensionFailed(current: SuspensionInFlight): Promise<string> {
    if (this.suspension === current) this.suspension = undefined;
    this.status.pausedUntil = undefined;
    return this.childFailed(current.workflowId, current.error);
  }

  private async resumeDirectly(reason: string, eventId?: string): Promise<string | undefined> {
    const { writes, write } = this.activities;
    const orgId = this.status.orgId!;
    try {
      await whileKillSwitchWaits(
        () =>
          writes.resumeOrganization.executeWithOptions(write(`Resume ${orgId} (${this.externalId})`), [
            { orgId },
          ]),
        {
          backoffMs: this.input.timing?.killSwitchBackoffMs,
        },
      );
    } catch (err) {
      return this.childFailed(`resuming ${orgId}`, err);
    }
    this.clearAttention();
    this.status.orgSuspended = false;
    this.publish(`resumed: ${reason}`, eventId);
    return undefined;
  }

  /**
   * A child (or a call standing in for one) failed. The org is read back from Layers: archived behind
   * the orchestrator's back ends the customer as archived (terminal, nothing left to do); otherwise the
   * customer shows `needs-attention` with the error until a request succeeds. Returns the answer for the
   * request that was waiting.
   */
  private async childFailed(what: string, err: unknown): Promise<string> {
    const why = `${what} failed: ${describeFailure(err)}`;
    const orgStatus = await this.readOrgStatus();
    if (orgStatus === 'archived') {
      this.status.error = `child org ${this.status.orgId} was archived outside the orchestrator (${why})`;
      this.status.offboarding = { archivedAt: this.now(), reclaimedCredits: 0, revokedApiKeys: 0 };
      this.publish('found archived outside the orchestrator');
      this.close(`customer ${this.externalId} is archived: ${this.status.error}`, LIFECYCLE_REQUEST_REFUSED);
      return this.status.error;
    }
    if (orgStatus !== undefined) this.status.orgSuspended = orgStatus === 'suspended';
    this.status.attention = why;
    this.status.error = why;
    this.publish(`needs attention: ${why}`);
    return why;
  }

  private async readOrgStatus(): Promise<string | undefined> {
    if (!this.status.orgId) return undefined;
    const { reads, read } = this.activities;
    try {
      return await reads.organizationStatus.executeWithOptions(
        read(`Read the status of ${this.status.orgId}`),
        [{ orgId: this.status.orgId }],
      );
    } catch {
      return undefined; // the read's own failure leaves the customer in needs-attention
    }
  }

  // --- offboarding ----------------------------------------------------------------------------------

  async beginOffboarding(request: ChurnRequest): Promise<string | undefined> {
    const { status, externalId } = this;
    this.pendingChurn = undefined;
    await this.endSuspension(false, `churn: ${request.reason}`);
    if (status.offboarding) return undefined; // found archived while ending the suspension
    if (!status.orgId) {
      status.offboarding = { archivedAt: this.now(), reclaimedCredits: 0, revokedApiKeys: 0 };
      this.publish(`churned before a child org existed: ${request.reason}`, request.eventId);
      return undefined;
    }
    this.stateBeforeOffboarding = status.orgSuspended ? 'suspended' : 'active';
    let handle: ChildWorkflowHandle<typeof offboardCustomer>;
    try {
      handle = await startChild(offboardCustomer, {
        workflowId: offboardingWorkflowId(externalId),
        args: [
          {
            externalId,
            orgId: status.orgId,
            reason: request.reason,
            effectiveAt: request.effectiveAt,
            drain: request.drain,
            timing: this.input.timing,
          },
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Offboard ${externalId}${request.effectiveAt ? ` at ${request.effectiveAt}` : ''}${request.drain ? ' (drain)' : ''}`,
      });
    } catch (err) {
      return this.childFailed(`starting ${offboardingWorkflowId(externalId)}`, err);
    }
    const current: OffboardingInFlight = { handle };
    this.offboarding = current;
    void handle.result().then(
      (result) => {
        current.result = result;
      },
      (error: unknown) => {
        current.error = error;
      },
    );
    this.clearAttention();
    status.offboardingAt = request.effectiveAt;
    this.publish(`churn: ${request.reason}`, request.eventId);
    return undefined;
  }

  /** A churn while a dated offboarding waits: the earlier date wins (a churn without a date means now). */
  private async bringOffboardingForward(request: ChurnRequest): Promise<string | undefined> {
    const scheduled = this.status.offboardingAt;
    if (!scheduled) return undefined; // already archiving
    if (request.effectiveAt && Date.parse(request.effectiveAt) >= Date.parse(scheduled)) return undefined;
    const offboarding = this.offboarding!;
    const moved = await this.signalSafely(() =>
      offboarding.handle.signal(rescheduleOffboardingSignal, {
        reason: request.reason,
        ...(request.effectiveAt ? { effectiveAt: request.effectiveAt } : {}),
      }),
    );
    if (!moved) return undefined; // it finished meanwhile: nothing left to bring forward
    this.status.offboardingAt = request.effectiveAt;
    this.publish(
      `churn brought forward to ${request.effectiveAt ?? 'now'}: ${request.reason}`,
      request.eventId,
    );
    return undefined;
  }

  async offboardingEnded(): Promise<void> {
    const done = this.offboarding!;
    this.offboarding = undefined;
    this.status.offboardingAt = undefined;
    if (done.result && done.result.cancelled) {
      this.status.orgSuspended = this.stateBeforeOffboarding === 'suspended';
      this.publish(`reactivated: ${done.result.reason}`);
    } else if (done.result) {
      const { archivedAt, reclaimedCredits, revokedApiKeys } = done.result;
      this.status.offboarding = { archivedAt, reclaimedCredits, revokedApiKeys };
      this.publish('archived');
    } else {
      await this.childFailed(offboardingWorkflowId(this.externalId), done.error);
    }
  }

  // --- continue-as-new ------------------------------------------------------------------------------

  childrenInFlight(): boolean {
    return !this.onboardingSettled || this.suspension !== undefined || this.offboarding !== undefined;
  }

  carried(): NonNullable<CustomerWorkflowInput['carried']> {
    return {
      status: this.status,
      seenEventIds: [...this.seenEventIds],
      suspensions: this.suspensions,
      ...(this.identity ? { onboardingIdentity: this.identity } : {}),
      ...(this.crmOutbox.length ? { crmOutbox: this.crmOutbox } : {}),
      ...(this.crmEventSequence ? { crmEventSequence: this.crmEventSequence } : {}),
    };
  }
}

/**
 * The workflow is the trust boundary (any Temporal client can start it): ids must name this workflow and no
 * secret may ride in what it hands on, checked before anything reaches Layers. Plain code, so a replay
 * re-decides it identically; runs recorded before the patch never checked.
 */
function refuseInvalidInput(input: CustomerWorkflowInput, lean: boolean): void {
  if (!(lean || patched(INPUT_BOUNDARY_PATCH))) return;
  const { workflowId, continuedFromExecutionRunId } = workflowInfo();
  const problems = customerInputProblems(input, workflowId);
  if (input.carried && !continuedFromExecutionRunId)
    problems.push('carried: is set only by the workflow itself (continue-as-new)');
  if (problems.length === 0) return;
  throw ApplicationFailure.create({
    type: WorkflowFailureType.invalidWorkflowInput,
    nonRetryable: true,
    message: `Invalid customer workflow input: ${problems.join('; ')}`,
  });
}

/**
 * One long-lived workflow per customer (`customer/<externalId>`) owns its state machine:
 * onboarding → active ⇄ suspended → offboarding → archived (or failed, or needs-attention when a child
 * failed). Onboarding, each suspension and the offboarding run as child workflows so each shows as its
 * own execution; every decision is a method of CustomerLifecycle.
 */
export async function customerLifecycle(input: CustomerWorkflowInput): Promise<CustomerStatus> {
  // Decided once, first: a lean run implies every earlier patch and records no marker for them (Temporal
  // upserts the TemporalChangeVersion search attribute for each patch a run records: a visibility write each).
  const lean = patched(LEAN_ONBOARDING);
  refuseInvalidInput(input, lean);
  const customer = new CustomerLifecycle(input, lean);
  const { status, queue } = customer;

  for (const [signal, update, kind] of [
    [pauseSignal, pauseUpdate, 'pause'],
    [resumeSignal, resumeUpdate, 'resume'],
    [churnSignal, churnUpdate, 'churn'],
  ] as const) {
    setHandler(signal, (raw: unknown) => customer.signalled(kind, raw));
    setHandler(update, (raw: unknown) => customer.requested(kind, raw), {
      validator: (raw: unknown) => customer.validate(kind, raw),
    });
  }
  setHandler(reactivateSignal, (raw: unknown) => customer.reactivate(raw));
  setHandler(orgCreatedSignal, (payload) => customer.orgCreated(payload));
  setHandler(orgSuspendedSignal, () => customer.orgSuspended());
  setHandler(onboardingWaitingSignal, (payload) => customer.onboardingWaiting(payload));
  setHandler(customerStatusQuery, () => status);
  setHandler(onboardingResultUpdate, () => customer.onboardingResult(), {
    validator: () => customer.validateOnboardingResultRequest(),
  });
  await customer.enableCrmEvents();

  // --- start: onboard, or adopt a customer that exists only in Layers -------------------------------
  if (!input.carried) {
    if (input.onboarding) {
      await customer.startOnboarding(input.onboarding);
    } else {
      const adopted = await customer.adopt();
      if (adopted !== 'adopted') {
        await condition(allHandlersFinished);
        await customer.crmEventsDelivered();
        if (adopted === 'archived') return status;
        // Fail (not complete) so that onboarding this externalId later is still allowed by the id reuse policy.
        throw ApplicationFailure.create({
          type: WorkflowFailureType.customerNotFound,
          nonRetryable: true,
          message: `Customer ${input.externalId} is unknown: no child org with metadata.externalId "${input.externalId}"; onboard it first. Refused: ${
            status.refused.map((r) => `${r.kind}${r.eventId ? ` (${r.eventId})` : ''}`).join(', ') ||
            'nothing'
          }`,
        });
      }
    }
  }

  // --- the event loop: one transition per wake-up reason ------------------------------------------------
  for (;;) {
    await condition(
      () =>
        queue.length > 0 ||
        (!customer.onboardingSettled && customer.onboarding!.done) ||
        (customer.pendingPause !== undefined && status.orgId !== undefined) ||
        customer.suspension?.result !== undefined ||
        customer.suspension?.error !== undefined ||
        (customer.offboarding !== undefined &&
          (customer.offboarding.result !== undefined || customer.offboarding.error !== undefined)) ||
        (workflowInfo().continueAsNewSuggested && !customer.childrenInFlight()),
    );

    if (!customer.onboardingSettled && customer.onboarding!.done) await customer.onboardingEnded();

    if (
      customer.pendingPause &&
      status.orgId &&
      !customer.suspension &&
      status.state !== 'offboarding' &&
      status.state !== 'archived'
    ) {
      const request = customer.pendingPause;
      customer.pendingPause = undefined;
      await customer.startSuspension(request);
    }

    if (customer.suspension?.result) customer.suspensionEnded();
    else if (customer.suspension && customer.suspension.error !== undefined)
      await customer.suspensionFailed(customer.suspension);

    if (customer.offboarding && (customer.offboarding.result || customer.offboarding.error))
      await customer.offboardingEnded();

    while (queue.length > 0) {
      const op = queue.shift()!;
      try {
        op.refusal = await customer.apply(op);
      } finally {
        op.done = true;
      }
    }

    if (status.state === 'archived') break;
    if (status.state === 'failed' && !customer.pendingChurn && !customer.offboarding) {
      const message = `Customer ${input.externalId} could not be onboarded: ${status.error}${
        status.orgId
          ? ` (child org ${status.orgId} exists; a new start reconciles it, a churn archives it)`
          : ''
      }`;
      customer.close(message, WorkflowFailureType.customerOnboardingFailed);
      await condition(allHandlersFinished);
      await customer.crmEventsDelivered();
      throw ApplicationFailure.create({
        type: WorkflowFailureType.customerOnboardingFailed,
        nonRetryable: true,
        message,
      });
    }

    if (workflowInfo().continueAsNewSuggested && !customer.childrenInFlight() && queue.length === 0) {
      // A request that arrives while handlers finish is applied first (its update waits on this loop).
      await condition(() => allHandlersFinished() || queue.length > 0);
      if (queue.length === 0) {
        await continueAsNew<typeof customerLifecycle>({
          externalId: input.externalId,
          timing: input.timing,
          carried: customer.carried(),
        });
      }
    }
  }
  customer.close(`customer ${input.externalId} is archived`, LIFECYCLE_REQUEST_REFUSED);
  await condition(allHandlersFinished);
  await customer.crmEventsDelivered();
  return status;
}
