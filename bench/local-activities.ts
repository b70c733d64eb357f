/**
 * Benchmark-only workflow interceptor: every activity the onboarding schedules runs as a local activity
 * instead (same timeouts and retry policy), on the workflow worker. It exists to measure what the task
 * queue hops cost. Not for production: local activities never reach the paced Layers task queues, so the
 * server-side rate limit (maxTaskQueueActivitiesPerSecond) no longer applies to them.
 */
import {
  proxyLocalActivities,
  type ActivityInput,
  type Next,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

class LocalActivities implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(
    input: ActivityInput,
    _next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
  ): Promise<unknown> {
    const { startToCloseTimeout, retry, summary } = input.options;
    const local = proxyLocalActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>({
      startToCloseTimeout: startToCloseTimeout ?? '30 seconds',
      retry,
      ...(summary ? { summary } : {}),
    });
    return local[input.activityType]!(...input.args);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new LocalActivities()] });
