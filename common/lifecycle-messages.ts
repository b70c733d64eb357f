import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { LifecycleEvent } from './lifecycle-events';
import type { ChurnRequest, PauseRequest, ReactivateRequest, ResumeRequest } from './lifecycle-input';
import type { OnboardingOptions } from './onboarding-messages';
import type { OnboardingRequest } from './onboarding-input';

/**
 * `needs-attention`: a child workflow failed (a Layers error such as a 409 on an org archived outside the
 * orchestrator, a 401/403/404, or the child was terminated); `error` says what, and the next pause, resume
 * or churn that succeeds clears it.
 */
export const LIFECYCLE_STATES = [
  'onboarding',
  'active',
  'suspended',
  'offboarding',
  'archived',
  'failed',
  'needs-attention',
] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export interface Transition {
  at: string;
  from: LifecycleState | 'new';
  to: LifecycleState;
  reason: string;
  eventId?: string;
}

export interface OffboardingResult {
  archivedAt: string;
  reclaimedCredits: number;
  revokedApiKeys: number;
}

export interface CustomerStatus {
  externalId: string;
  state: LifecycleState;
  orgId?: string;
  /** The child org is suspended (also true while onboarding finishes for a customer paused mid-way). */
  orgSuspended: boolean;
  pausedUntil?: string;
  offboardingAt?: string;
  /** A churn is waiting for onboarding to reach a safe point. */
  churnPending: boolean;
  /** The most recent transitions, newest last (bounded). */
  transitions: Transition[];
  /** Requests refused (bad payload, or not possible in the current state), newest last (bounded). */
  refused: Array<{ at: string; kind: string; eventId?: string; why: string }>;
  offboarding?: OffboardingResult;
  error?: string;
  /** Why the customer is in `needs-attention` (the failed child and the Layers error). */
  attention?: string;
}

export type { ReactivateRequest } from './lifecycle-input';

export interface CustomerWorkflowTiming {
  killSwitchBackoffMs?: { initial: number; max: number };
  /** How often a draining offboarding re-reads the child's reserved credits. */
  drainPollMs?: number;
  /** How long a drain may wait before archiving anyway (reserved credits are then not reclaimed). */
  drainTimeoutMs?: number;
}

export interface CustomerWorkflowInput {
  externalId: string;
  /** Absent when a CRM signal reached a customer this orchestrator never onboarded: it is adopted. */
  onboarding?: { request: OnboardingRequest; options?: OnboardingOptions };
  timing?: CustomerWorkflowTiming;
  /** State carried across continue-as-new. */
  carried?: CarriedCustomerState;
}

export interface CarriedCustomerState {
  status: CustomerStatus;
  seenEventIds: string[];
  /** How many `suspend/<id>/<n>` ids were used (absent in runs from before it was carried). */
  suspensions?: number;
  /**
   * Opaque onboarding identity the customer keeps across runs and continue-as-new and hands to every
   * onboarding child it starts (e.g. when its idempotency keys were first issued); see OnboardingOptions.
   */
  onboardingIdentity?: Record<string, unknown>;
  /** Lifecycle events not yet delivered to the CRM, oldest first, and the last sequence number used. */
  crmOutbox?: LifecycleEvent[];
  crmEventSequence?: number;
}

/** The failure type of a waited request (update) the customer workflow could not apply; its message says why. */
export const LIFECYCLE_REQUEST_REFUSED = 'LifecycleRequestRefused';

export const customerStatusQuery = defineQuery<CustomerStatus>('status');

export const pauseSignal = defineSignal<[PauseRequest]>('pause');
export const resumeSignal = defineSignal<[ResumeRequest]>('resume');
export const churnSignal = defineSignal<[ChurnRequest]>('churn');
/** Cancels a churn whose effectiveAt has not come yet. */
export const reactivateSignal = defineSignal<[ReactivateRequest]>('reactivate');

/** The same operations with a synchronous answer: the state once the request was applied. */
export const pauseUpdate = defineUpdate<CustomerStatus, [PauseRequest]>('pauseCustomer');
export const resumeUpdate = defineUpdate<CustomerStatus, [ResumeRequest]>('resumeCustomer');
export const churnUpdate = defineUpdate<CustomerStatus, [ChurnRequest]>('churnCustomer');
