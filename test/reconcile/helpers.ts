import type { Duration } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import type { PartnerFirehoseConfig } from '../../activities/firehose';
import { FileSecretSink } from '../../activities/secret-sink';
import { manualReconcileWorkflowId, type ReconcileInput, type ReconcileReport } from '../../common/reconcile';
import type { reconcile } from '../../workflows/reconcile';
import type { OnboardingTestEnv } from '../helpers/onboarding-env';
import { runCli, type CliRun } from '../helpers/processes';
import { createTestWorker } from '../helpers/temporal';

/** A worker like env.newWorker, with the reconcile scan's optional settings. */
export function reconcileWorker(
  env: OnboardingTestEnv,
  options: { firehose?: PartnerFirehoseConfig; maxHeartbeatThrottleInterval?: Duration } = {},
) {
  // Configured as worker/worker.ts does from LAYERS_FIREHOSE_URL/_EVENTS: onboarding ensures that partner
  // endpoint and reconcile checks it exists.
  return createTestWorker(
    env.temporal,
    env.taskQueue,
    { layers: env.layers, secretSink: new FileSecretSink(env.secretsDir), firehose: options.firehose },
    options.maxHeartbeatThrottleInterval
      ? {
          tuning: {
            maxCachedWorkflows: 100,
            maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleInterval,
          },
        }
      : {},
  );
}

/** Runs the reconcile workflow now, as `onboard reconcile --wait` does, and returns its report. */
export async function reconcileNow(
  env: OnboardingTestEnv,
  input: ReconcileInput = {},
): Promise<{ workflowId: string; report: ReconcileReport }> {
  const workflowId = `${manualReconcileWorkflowId(new Date())}/${randomUUID().slice(0, 8)}`;
  const report = await env.temporal.client.workflow.execute<typeof reconcile>('reconcile', {
    workflowId,
    taskQueue: env.taskQueue,
    args: [input],
  });
  return { workflowId, report };
}

export type { CliRun };

/** `npm run onboard -- …` in its own process, pointed at the suite's server and task queue. */
export function onboard(env: OnboardingTestEnv, args: string[]): Promise<CliRun> {
  return runCli(args, {
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_NAMESPACE: env.temporal.namespace,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
  });
}
