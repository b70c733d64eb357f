import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { layersReadQueue, layersWriteQueue } from '../common/ids';

/** Failures the activities raise on purpose; retrying them in place cannot help. */
export const NON_RETRYABLE_FAILURES = [
  'LayersNonRetryableError',
  'LayersContractError',
  'LayersKillSwitchError',
  'LayersInsufficientFundsError',
  'LayersMissingAdminScope',
  'OnboardingVerificationFailed',
];

export const defaultActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
};

export function failureType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
    return err.cause.type ?? undefined;
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  return undefined;
}

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Layers writes and reads, each on the task queue the server paces for the key's budget. */
export function layersActivities(base: ActivityOptions = defaultActivityOptions) {
  const { taskQueue } = workflowInfo();
  const writeOptions: ActivityOptions = { ...base, taskQueue: layersWriteQueue(taskQueue) };
  const readOptions: ActivityOptions = { ...base, taskQueue: layersReadQueue(taskQueue) };
  return {
    writes: proxyActivities<Activities>(writeOptions),
    reads: proxyActivities<Activities>(readOptions),
    write: (summary: string): ActivityOptions => ({ ...writeOptions, summary }),
    read: (summary: string): ActivityOptions => ({ ...readOptions, summary }),
  };
}

/**
 * Runs a Layers call; while the parent org's kill switch is on it waits (durable timers, growing
 * backoff, re-checking whoami) and then runs it again, instead of failing or burning retries.
 */
export async function whileKillSwitchWaits<T>(
  call: () => Promise<T>,
  options: {
    backoffMs?: { initial: number; max: number };
    onBlocked?: () => void;
    onCleared?: () => void;
  } = {},
): Promise<T> {
  const { reads, read } = layersActivities();
  const backoff = options.backoffMs ?? { initial: 5_000, max: 300_000 };
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (failureType(err) !== 'LayersKillSwitchError') throw err;
    }
    options.onBlocked?.();
    let delay = backoff.initial;
    for (;;) {
      await sleep(delay);
      if (!(await reads.preflight.executeWithOptions(read('Re-check the kill switch'), [])).blocked) break;
      delay = Math.min(delay * 2, backoff.max);
    }
    options.onCleared?.();
  }
}
