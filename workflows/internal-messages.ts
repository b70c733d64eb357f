import { defineSignal } from '@temporalio/workflow';

// Between the customer workflow and its children only; no CRM or other client sends these.
/** `identity`: optional, what says which onboarding this is (see OnboardingOptions); the customer carries it. */
export const orgCreatedSignal =
  defineSignal<[{ orgId: string; identity?: Record<string, unknown> }]>('orgCreated');
/** The customer needs the org id before onboarding ends (a pause waits for it): answered with `orgCreated`. */
export const reportOrgSignal = defineSignal('reportOrg');
export const stopOnboardingSignal = defineSignal<[{ reason: string }]>('stopOnboarding');
export const orgSuspendedSignal = defineSignal<[{ orgId: string }]>('orgSuspended');
/** Ends a suspension: `resume: true` lifts it, `false` leaves the org suspended (a churn follows). */
export const endSuspensionSignal = defineSignal<[{ resume: boolean; reason: string }]>('endSuspension');
/** A second churn brings a dated offboarding forward: `effectiveAt` absent means now. */
export const rescheduleOffboardingSignal =
  defineSignal<[{ effectiveAt?: string; reason: string }]>('rescheduleOffboarding');
/** The onboarding child waits (for funds in the parent wallet): the customer tells the CRM. */
export const onboardingWaitingSignal = defineSignal<[{ waitingFor: string }]>('onboardingWaiting');
