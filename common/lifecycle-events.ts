import type { LifecycleState } from './lifecycle-messages';

// What the customer workflow tells the partner's CRM (`CRM_EVENTS_URL`) on every state change. Shared
// by the workflow (which builds each event, so a retry sends the very same body) and the activity that
// posts it. Workflow-safe: types and constants only.

export const LIFECYCLE_EVENT_TYPES = [
  'customer.onboarding_started',
  'customer.waiting_for_funds',
  'customer.active',
  'customer.onboarding_failed',
  'customer.paused',
  'customer.resumed',
  'customer.needs_attention',
  'customer.offboarding_scheduled',
  'customer.reactivated',
  'customer.offboarded',
] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

export interface LifecycleEvent {
  /** Stable per transition (uuid v5 of the customer workflow id and `sequence`): the CRM dedupes by it. */
  id: string;
  type: LifecycleEventType;
  /** 1, 2, 3… per customer, in the order the transitions happened (carried across continue-as-new). */
  sequence: number;
  /** Workflow time of the transition. */
  occurredAt: string;
  externalId: string;
  state: LifecycleState;
  previousState: LifecycleState | 'new';
  reason: string;
  orgId?: string;
  /** The CRM request (pause / resume / churn) that caused it, when one did. */
  requestEventId?: string;
  /** `customer.onboarding_failed` and `customer.needs_attention`: the Layers error. */
  error?: string;
  /** `customer.offboarding_scheduled`: when the org is archived (absent: now). */
  effectiveAt?: string;
  /** `customer.offboarded`: what offboarding reclaimed. */
  offboarding?: { archivedAt: string; reclaimedCredits: number; revokedApiKeys: number };
}
