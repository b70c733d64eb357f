import type { Duration } from '@temporalio/common';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { FileSecretSink } from '../../activities/secret-sink';
import { manualReconcileWorkflowId, type ReconcileInput, type ReconcileReport } from '../../common/reconcile';
import type { reconcile } from '../../workflows/reconcile';
import type { OnboardingTestEnv } from '../helpers/onboarding-env';
import { createTestWorker } from '../helpers/temporal';

export const ROOT = path.resolve(__dirname, '../..');

/** A worker like env.newWorker, with the reconcile scan's optional settings. */
export function reconcileWorker(
  env: OnboardingTestEnv,
  options: { firehoseUrl?: string; maxHeartbeatThrottleInterval?: Duration } = {},
) {
  return createTestWorker(
    env.temporal,
    env.taskQueue,
    { layers: env.layers, secretSink: new FileSecretSink(env.secretsDir), firehoseUrl: options.firehoseUrl },
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

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run onboard -- …` in its own process, pointed at the suite's server and task queue. */
export function onboard(env: OnboardingTestEnv, args: string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'client/cli/main.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
