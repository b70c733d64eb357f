/**
 * Workflow interceptors (bundled into the workflow sandbox) that count onboardings and time spent waiting
 * for funds, through the workflow metric meter — replay-safe (nothing is emitted while replaying) and
 * exported on the worker's Prometheus endpoint next to Temporal's own metrics.
 *
 * Sandbox code: imports only @temporalio/workflow and dependency-free modules.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  metricMeter,
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { LayersFailureType } from '../common/failure-types';
import { METRIC_NAMES } from './metric-names';

const ONBOARDING_WORKFLOW = 'onboardCustomer';
const ALLOCATE_ACTIVITY = 'allocateCredits';

function failureType(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
    return err.cause.type ?? 'unknown';
  if (err instanceof ApplicationFailure) return err.type ?? 'unknown';
  return err instanceof Error ? err.name : 'unknown';
}

class OnboardingMetrics implements WorkflowInboundCallsInterceptor, WorkflowOutboundCallsInterceptor {
  private waitingForFundsSince?: number;
  private readonly started = metricMeter.createCounter(
    METRIC_NAMES.onboardingsStarted,
    'onboardings',
    'Onboarding workflow runs started',
  );
  private readonly completed = metricMeter.createCounter(
    METRIC_NAMES.onboardingsCompleted,
    'onboardings',
    'Onboarding workflow runs completed',
  );
  private readonly failed = metricMeter.createCounter(
    METRIC_NAMES.onboardingsFailed,
    'onboardings',
    'Onboarding workflow runs failed (by failure type)',
  );
  private readonly fundsWait = metricMeter.createHistogram(
    METRIC_NAMES.fundsWait,
    'int',
    'ms',
    'Time onboardings waited for the parent wallet to be topped up',
  );

  async execute(
    input: WorkflowExecuteInput,
    next: Next<WorkflowInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    this.started.add(1);
    try {
      const result = await next(input);
      this.completed.add(1);
      return result;
    } catch (err) {
      this.failed.add(1, { failure_type: failureType(err) });
      throw err;
    } finally {
      this.fundsWaitEnded('abandoned');
    }
  }

  scheduleActivity(
    input: ActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
  ): Promise<unknown> {
    return this.watchAllocation(input.activityType, next(input));
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    return this.watchAllocation(input.activityType, next(input));
  }

  /** A 402 on the allocation starts the wait; the allocation that goes through ends it. */
  private async watchAllocation(activityType: string, pending: Promise<unknown>): Promise<unknown> {
    if (activityType !== ALLOCATE_ACTIVITY) return pending;
    try {
      const value = await pending;
      this.fundsWaitEnded('funded');
      return value;
    } catch (err) {
      if (failureType(err) === LayersFailureType.insufficientFunds) this.waitingForFundsSince ??= Date.now();
      throw err;
    }
  }

  private fundsWaitEnded(outcome: 'funded' | 'abandoned'): void {
    if (this.waitingForFundsSince === undefined) return;
    const waitedMs = Date.now() - this.waitingForFundsSince;
    this.waitingForFundsSince = undefined;
    this.fundsWait.record(waitedMs, { outcome });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  if (workflowInfo().workflowType !== ONBOARDING_WORKFLOW) return {};
  const metrics = new OnboardingMetrics();
  return { inbound: [metrics], outbound: [metrics] };
};
