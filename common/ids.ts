// Every name another Temporal client depends on: workflow ids (the CRM never stores Temporal ids, it
// derives them from its own externalId) and task queues. Changing one breaks customers in flight.

export const DEFAULT_TASK_QUEUE = 'layers-onboarding';

export function customerWorkflowId(externalId: string): string {
  return `customer/${externalId}`;
}

export function onboardingWorkflowId(externalId: string): string {
  return `onboarding/${externalId}`;
}

export function suspendWorkflowId(externalId: string, n: number): string {
  return `suspend/${externalId}/${n}`;
}

export function offboardingWorkflowId(externalId: string): string {
  return `offboarding/${externalId}`;
}

// Layers calls run on their own task queues so the server can pace them for every worker replica at
// once (maxTaskQueueActivitiesPerSecond): writes and reads have separate per-key budgets.

export function layersWriteQueue(taskQueue: string): string {
  return `${taskQueue}-layers-write`;
}

export function layersReadQueue(taskQueue: string): string {
  return `${taskQueue}-layers-read`;
}
