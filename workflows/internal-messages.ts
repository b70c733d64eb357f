import { defineSignal } from '@temporalio/workflow';

// Between the customer workflow and its children only; no CRM or other client sends these.
export const orgCreatedSignal = defineSignal<[{ orgId: string }]>('orgCreated');
export const stopOnboardingSignal = defineSignal<[{ reason: string }]>('stopOnboarding');
export const orgSuspendedSignal = defineSignal<[{ orgId: string }]>('orgSuspended');
/** Ends a suspension: `resume: true` lifts it, `false` leaves the org suspended (a churn follows). */
export const endSuspensionSignal = defineSignal<[{ resume: boolean; reason: string }]>('endSuspension');
