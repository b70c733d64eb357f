import {
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { layersActivities, whileKillSwitchWaits } from './layers-activities';
import { parseLifecycleRequest, reactivateRequestSchema, type ChurnRequest, type LifecycleRequestKind, type PauseRequest, type ResumeRequest } from '../common/lifecycle-input';
import { churnSignal, churnUpdate, customerStatusQuery, pauseSignal, pauseUpdate, reactivateSignal, resumeSignal, resumeUpdate, type CustomerStatus, type CustomerWorkflowInput, type LifecycleState } from '../common/lifecycle-messages';
import { offboardCustomer, type OffboardingOutcome } from './offboarding';
import { onboardCustomer } from './onboarding';
import { describeIssues } from '../common/onboarding-input';
import type { OnboardingResult } from '../common/onboarding-messages';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../common/search-attributes';
import { WorkflowFailureType } from '../common/failure-types';
import { suspendCustomer, type SuspendResult } from './suspend';
import { onboardingWorkflowId } from '../common/ids';
import { endSuspensionSignal, orgCreatedSignal, orgSuspendedSignal, stopOnboardingSignal } from './internal-messages';
import { offboardingWorkflowId, suspendWorkflowId } from '../common/ids';

const MAX_TRANSITIONS = 20;
const MAX_SEEN_EVENT_IDS = 500;

type Op =
  | { kind: 'pause'; request: PauseRequest; done?: boolean }
  | { kind: 'resume'; request: ResumeRequest; done?: boolean }
  | { kind: 'churn'; request: ChurnRequest; done?: boolean };

/**
 * One long-lived workflow per customer (`customer/<externalId>`) owns its state machine:
 * onboarding → active ⇄ suspended → offboarding → archived (or failed). CRM requests queue up and are
 * applied one at a time, in arrival order; onboarding, each suspension and the offboarding run as
 * child workflows so each shows as its own execution.
 */
export async function customerLifecycle(input: CustomerWorkflowInput): Promise<CustomerStatus> {
  const { externalId, timing } = input;
  const backoffMs = timing?.killSwitchBackoffMs;
  const status: CustomerStatus = input.carried?.status ?? {
    externalId,
    state: input.onboarding ? 'onboarding' : 'active',
    orgSuspended: false,
    churnPending: false,
    transitions: [],
    refused: [],
  };
  const seenEventIds = new Set(input.carried?.seenEventIds ?? []);
  const queue: Op[] = [];

  // Children and what they reported.
  let onboarding: { done: boolean; result?: OnboardingResult; error?: unknown } | undefined;
  let suspension: { handle: ChildWorkflowHandle<typeof suspendCustomer>; confirmed: boolean; result?: SuspendResult } | undefined;
  let offboarding: { handle: ChildWorkflowHandle<typeof offboardCustomer>; result?: OffboardingOutcome; error?: unknown } | undefined;
  let pendingPause: PauseRequest | undefined;
  let pendingChurn: ChurnRequest | undefined;
  let suspensions = status.transitions.filter((t) => t.to === 'suspended').length;
  let stateBeforeOffboarding = 'active' as LifecycleState;

  const now = () => new Date().toISOString();
  const computeState = (): LifecycleState => {
    if (status.offboarding) return 'archived';
    if (offboarding && !offboarding.result) return 'offboarding';
    if (onboarding && !onboarding.done) return 'onboarding';
    if (onboarding?.error && !status.orgId) return 'failed';
    if (onboarding?.error && !pendingChurn) return 'failed';
    return status.orgSuspended ? 'suspended' : 'active';
  };
  const publish = (reason: string, eventId?: string) => {
    const next = computeState();
    if (next !== status.state || status.transitions.length === 0) {
      status.transitions.push({ at: now(), from: status.transitions.length ? status.state : 'new', to: next, reason, ...(eventId ? { eventId } : {}) });
      if (status.transitions.length > MAX_TRANSITIONS) status.transitions.splice(0, status.transitions.length - MAX_TRANSITIONS);
      status.state = next;
    }
    status.churnPending = pendingChurn !== undefined;
    upsertSearchAttributes([
      { key: LayersCustomerId, value: externalId },
      { key: LayersLifecycleState, value: status.state },
      ...(status.orgId ? [{ key: LayersOrgId, value: status.orgId }] : []),
    ]);
    const rows = status.transitions
      .slice(-8)
      .map((t) => `| ${t.at} | ${t.from} → ${t.to} | ${t.reason}${t.eventId ? ` (${t.eventId})` : ''} |`)
      .join('\n');
    setCurrentDetails(
      `### Customer \`${externalId}\` — **${status.state}**${status.orgId ? ` · \`${status.orgId}\`` : ''}\n\n` +
        `${status.pausedUntil ? `Paused until ${status.pausedUntil}. ` : ''}${status.offboardingAt ? `Offboarding at ${status.offboardingAt}. ` : ''}` +
        `${status.churnPending ? 'Churn waiting for onboarding to reach a safe point.' : ''}\n\n| at | transition | why |\n|---|---|---|\n${rows}\n`,
    );
  };
  const refuse = (kind: string, why: string, eventId?: string) => {
    status.refused.push({ at: now(), kind, why, ...(eventId ? { eventId } : {}) });
    if (status.refused.length > MAX_TRANSITIONS) status.refused.shift();
  };

  /** Validates and de-duplicates a CRM request; returns the op to queue, or undefined. */
  function accept<K extends LifecycleRequestKind>(kind: K, raw: unknown): Op | undefined {
    const parsed = parseLifecycleRequest(kind, raw, Date.now());
    if (!parsed.ok) {
      refuse(kind, parsed.errors.join('; '), (raw as { eventId?: string } | null)?.eventId);
      return undefined;
    }
    const eventId = parsed.value.eventId;
    if (seenEventIds.has(eventId)) return undefined;
    seenEventIds.add(eventId);
    if (seenEventIds.size > MAX_SEEN_EVENT_IDS) seenEventIds.delete(seenEventIds.values().next().value as string);
    return { kind, request: parsed.value } as Op;
  }

  const validator = (kind: LifecycleRequestKind) => (raw: unknown) => {
    const parsed = parseLifecycleRequest(kind, raw, Date.now());
    if (!parsed.ok) throw new Error(`invalid ${kind} request: ${parsed.errors.join('; ')}`);
  };

  for (const [signal, update, kind] of [
    [pauseSignal, pauseUpdate, 'pause'],
    [resumeSignal, resumeUpdate, 'resume'],
    [churnSignal, churnUpdate, 'churn'],
  ] as const) {
    setHandler(signal, (raw: unknown) => {
      const op = accept(kind, raw);
      if (op) queue.push(op);
    });
    setHandler(
      update,
      async (raw: unknown) => {
        const op = accept(kind, raw);
        if (op) {
          queue.push(op);
          await condition(() => op.done === true);
        }
        return status;
      },
      { validator: validator(kind) },
    );
  }
  setHandler(reactivateSignal, async (raw: unknown) => {
    const parsed = reactivateRequestSchema.safeParse(raw);
    const eventId = (raw as { eventId?: string } | null)?.eventId;
    if (!parsed.success) return refuse('reactivate', describeIssues(parsed.error).join('; '), eventId);
    if (seenEventIds.has(parsed.data.eventId)) return;
    seenEventIds.add(parsed.data.eventId);
    if (offboarding && !offboarding.result) await offboarding.handle.signal(reactivateSignal, parsed.data);
    else refuse('reactivate', 'no scheduled offboarding to cancel', eventId);
  });
  setHandler(orgCreatedSignal, ({ orgId }) => {
    status.orgId = orgId;
    publish('child org created');
  });
  setHandler(orgSuspendedSignal, () => {
    if (suspension) suspension.confirmed = true;
  });
  setHandler(customerStatusQuery, () => status);

  const { reads, read, writes, write } = layersActivities();

  async function startSuspension(request: PauseRequest): Promise<void> {
    const handle = await startChild(suspendCustomer, {
      workflowId: suspendWorkflowId(externalId, ++suspensions),
      args: [{ externalId, orgId: status.orgId!, reason: request.reason, until: request.until, timing }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      staticSummary: `Suspend ${externalId}${request.until ? ` until ${request.until}` : ''}`,
    });
    const current = { handle, confirmed: false } as NonNullable<typeof suspension>;
    suspension = current;
    void handle.result().then((result) => {
      current.result = result;
    });
    await condition(() => current.confirmed || current.result !== undefined);
    status.orgSuspended = true;
    status.pausedUntil = request.until;
    publish(`paused: ${request.reason}`, request.eventId);
  }

  async function endSuspension(resume: boolean, reason: string, eventId?: string): Promise<void> {
    if (!suspension) return;
    const current = suspension;
    if (!current.result) await current.handle.signal(endSuspensionSignal, { resume, reason });
    await condition(() => current.result !== undefined);
    suspension = undefined;
    status.pausedUntil = undefined;
    if (current.result!.resumed) {
      status.orgSuspended = false;
      publish(`resumed: ${reason}`, eventId);
    }
  }

  async function beginOffboarding(request: ChurnRequest): Promise<void> {
    pendingChurn = undefined;
    await endSuspension(false, `churn: ${request.reason}`);
    if (!status.orgId) {
      status.offboarding = { archivedAt: now(), reclaimedCredits: 0, revokedApiKeys: 0 };
      publish(`churned before a child org existed: ${request.reason}`, request.eventId);
      return;
    }
    stateBeforeOffboarding = status.orgSuspended ? 'suspended' : 'active';
    const handle = await startChild(offboardCustomer, {
      workflowId: offboardingWorkflowId(externalId),
      args: [{ externalId, orgId: status.orgId, reason: request.reason, effectiveAt: request.effectiveAt, drain: request.drain, timing }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Offboard ${externalId}${request.effectiveAt ? ` at ${request.effectiveAt}` : ''}${request.drain ? ' (drain)' : ''}`,
    });
    const current: NonNullable<typeof offboarding> = { handle };
    offboarding = current;
    void handle.result().then(
      (result) => {
        current.result = result;
      },
      (error: unknown) => {
        current.error = error;
      },
    );
    status.offboardingAt = request.effectiveAt;
    publish(`churn: ${request.reason}`, request.eventId);
  }

  async function apply(op: Op): Promise<void> {
    const { eventId } = op.request;
    switch (op.kind) {
      case 'pause':
        if (status.state === 'offboarding' || status.state === 'archived' || status.state === 'failed') {
          refuse('pause', `customer is ${status.state}`, eventId);
        } else if (suspension || status.orgSuspended) {
          // Idempotent by state: already paused.
        } else if (status.orgId) {
          await startSuspension(op.request);
        } else {
          pendingPause = op.request; // applied the moment onboarding creates the org
        }
        return;
      case 'resume':
        if (pendingPause) pendingPause = undefined;
        if (suspension) await endSuspension(true, op.request.reason, eventId);
        else if (status.orgSuspended && status.orgId && (status.state === 'active' || status.state === 'suspended')) {
          // An adopted customer that was suspended outside this workflow.
          await whileKillSwitchWaits(
            () => writes.resumeOrganization.executeWithOptions(write(`Resume ${status.orgId} (${externalId})`), [{ orgId: status.orgId! }]),
            { backoffMs },
          );
          status.orgSuspended = false;
          publish(`resumed: ${op.request.reason}`, eventId);
        } else if (status.state === 'offboarding' || status.state === 'archived') refuse('resume', `customer is ${status.state}`, eventId);
        return;
      case 'churn':
        if (status.state === 'archived' || status.state === 'offboarding' || pendingChurn) return; // already on its way out
        if (onboarding && !onboarding.done) {
          pendingChurn = op.request;
          pendingPause = undefined;
          await onboardingHandle!.signal(stopOnboardingSignal, { reason: op.request.reason });
          publish(`churn requested during onboarding: ${op.request.reason}`, eventId);
          return;
        }
        await beginOffboarding(op.request);
        return;
    }
  }

  let onboardingHandle: ChildWorkflowHandle<typeof onboardCustomer> | undefined;

  // --- start: onboard, or adopt a customer that exists only in Layers -------------------------------
  if (!input.carried) {
    if (input.onboarding) {
      onboarding = { done: false };
      const current = onboarding;
      onboardingHandle = await startChild(onboardCustomer, {
        workflowId: onboardingWorkflowId(externalId),
        args: [input.onboarding.request, input.onboarding.options ?? {}],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Onboard ${input.onboarding.request.customer.name} (${externalId})`,
      });
      void onboardingHandle.result().then(
        (result) => {
          current.result = result;
          current.done = true;
        },
        (error: unknown) => {
          current.error = error;
          current.done = true;
        },
      );
      publish('onboarding started');
    } else {
      const found = await reads.findCustomerOrganization.executeWithOptions(read(`Find the child org of ${externalId}`), [{ externalId }]);
      if (!found) {
        // Fail (not complete) so that onboarding this externalId later is still allowed by the id reuse policy.
        const why = `no child org with metadata.externalId "${externalId}"`;
        for (const op of queue.splice(0)) refuse(op.kind, why, op.request.eventId);
        await condition(allHandlersFinished);
        throw ApplicationFailure.create({
          type: WorkflowFailureType.customerNotFound,
          nonRetryable: true,
          message: `Customer ${externalId} is unknown: ${why}; onboard it first. Refused: ${status.refused.map((r) => `${r.kind}${r.eventId ? ` (${r.eventId})` : ''}`).join(', ') || 'nothing'}`,
        });
      }
      if (found.status === 'archived') {
        status.orgId = found.orgId;
        status.error = `customer ${externalId} is already archived`;
        status.offboarding = { archivedAt: now(), reclaimedCredits: 0, revokedApiKeys: 0 };
        publish('found archived');
        // Refuse what was sent with the start visibly, then end.
        for (const op of queue.splice(0)) refuse(op.kind, status.error, op.request.eventId);
        await condition(allHandlersFinished);
        return status;
      }
      status.orgId = found.orgId;
      status.orgSuspended = found.status === 'suspended';
      publish('adopted an existing child org');
    }
  }

  // --- the event loop ---------------------------------------------------------------------------------
  let onboardingSettled = !onboarding;
  for (;;) {
    await condition(
      () =>
        queue.length > 0 ||
        (!onboardingSettled && onboarding!.done) ||
        (pendingPause !== undefined && status.orgId !== undefined) ||
        (suspension?.result !== undefined) ||
        (offboarding !== undefined && (offboarding.result !== undefined || offboarding.error !== undefined)) ||
        (workflowInfo().continueAsNewSuggested && !onboardingHandle && !suspension && !offboarding),
    );

    if (!onboardingSettled && onboarding!.done) {
      onboardingSettled = true;
      if (onboarding!.result) {
        status.orgId = onboarding!.result.orgId;
        publish('onboarding completed');
      } else {
        const err = onboarding!.error;
        const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
        const stopped = cause instanceof ApplicationFailure && cause.type === WorkflowFailureType.onboardingStopped;
        const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as { orgId?: string } | undefined) : undefined;
        if (details?.orgId) status.orgId = details.orgId;
        if (!stopped) status.error = cause instanceof Error ? cause.message : String(cause);
        publish(stopped ? 'onboarding stopped at a safe point' : 'onboarding failed');
      }
      onboardingHandle = undefined;
      if (pendingChurn) await beginOffboarding(pendingChurn);
    }

    if (pendingPause && status.orgId && !suspension && status.state !== 'offboarding' && status.state !== 'archived') {
      const request = pendingPause;
      pendingPause = undefined;
      await startSuspension(request);
    }

    if (suspension?.result) {
      const ended = suspension.result;
      suspension = undefined;
      status.pausedUntil = undefined;
      if (ended.resumed) {
        status.orgSuspended = false;
        publish(`resumed: pause ${ended.endedBy === 'timer' ? 'expired' : 'lifted'}`);
      }
    }

    if (offboarding && (offboarding.result || offboarding.error)) {
      const done = offboarding;
      offboarding = undefined;
      status.offboardingAt = undefined;
      if (done.result && done.result.cancelled) {
        status.orgSuspended = stateBeforeOffboarding === 'suspended';
        publish(`reactivated: ${done.result.reason}`);
      } else if (done.result) {
        const { archivedAt, reclaimedCredits, revokedApiKeys } = done.result;
        status.offboarding = { archivedAt, reclaimedCredits, revokedApiKeys };
        publish('archived');
      } else {
        status.error = `offboarding failed: ${(done.error as Error).message}`;
        publish('offboarding failed');
      }
    }

    while (queue.length > 0) {
      const op = queue.shift()!;
      try {
        await apply(op);
      } finally {
        op.done = true;
      }
    }

    if (status.state === 'archived') break;
    if (status.state === 'failed' && !pendingChurn && !offboarding) {
      await condition(allHandlersFinished);
      throw ApplicationFailure.create({
        type: WorkflowFailureType.customerOnboardingFailed,
        nonRetryable: true,
        message: `Customer ${externalId} could not be onboarded: ${status.error}${status.orgId ? ` (child org ${status.orgId} exists; a new start reconciles it, a churn archives it)` : ''}`,
      });
    }

    if (workflowInfo().continueAsNewSuggested && !onboardingHandle && !suspension && !offboarding && queue.length === 0) {
      await condition(allHandlersFinished);
      if (queue.length === 0) {
        await continueAsNew<typeof customerLifecycle>({ externalId, timing, carried: { status, seenEventIds: [...seenEventIds] } });
      }
    }
  }
  await condition(allHandlersFinished);
  return status;
}
