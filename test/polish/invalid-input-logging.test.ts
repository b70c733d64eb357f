import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailureType } from '../../common/failure-types';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { spawnWorker, untilPolling, workerEnv, type WorkerProcess } from '../helpers/processes';
import { eventually } from '../helpers/temporal';

// The worker as operators run it (worker/main.ts in its own process, JSON logs on stdout), given input
// the library would have refused — started with the raw Temporal client, as anything that reaches the
// namespace can.

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

describe('invalid input reaching the worker', () => {
  let env: OnboardingTestEnv;
  let worker: WorkerProcess | undefined;
  const lines = (): LogLine[] =>
    (worker?.output() ?? '')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);

  beforeAll(async () => {
    env = await startOnboardingTestEnv();
    worker = spawnWorker(workerEnv(env));
    await untilPolling(worker, 90_000);
  });
  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.kill('SIGTERM');
      await worker.exited;
    }
    await env?.close();
  });

  test('an onboarding without customer.name: one WARN line naming the field, no stack, the workflow fails once', async () => {
    const request = acmeCoffee() as unknown as { customer: Record<string, unknown> };
    delete request.customer.name;
    const externalId = request.customer.externalId as string;
    const workflowId = onboardingWorkflowId(externalId);
    const handle = await env.temporal.client.workflow.start('onboardCustomer', {
      args: [request],
      taskQueue: env.taskQueue,
      workflowId,
      // Even a workflow retry policy does not run it again: the failure is non-retryable.
      retry: { maximumAttempts: 3, initialInterval: '1 second' },
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(WorkflowFailureType.invalidOnboardingInput);
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(cause!.message).toContain('customer.name: required');

    const { raw } = await handle.describe();
    expect(raw.workflowExecutionInfo?.firstRunId).toBe(handle.firstExecutionRunId);
    const history = await handle.fetchHistory();
    const failed = (history.events ?? []).filter((e) => e.workflowExecutionFailedEventAttributes);
    expect(failed).toHaveLength(1);
    // No retry run follows (a retried workflow's failure names the run that continues it).
    expect(failed[0]!.workflowExecutionFailedEventAttributes!.newExecutionRunId ?? '').toBe('');
    expect((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);

    // The failure is logged once by the worker; give it the moment the sink needs to flush.
    await eventually(async () => lines().some((l) => l.workflowId === workflowId && l.level === 'warn'), {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const about = lines().filter((l) => JSON.stringify(l).includes(externalId));
    const warnings = about.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning!.level).toBe('warn');
    expect(warning!.field).toBe('customer.name');
    expect(JSON.stringify(warning)).toContain('customer.name: required');
    expect(JSON.stringify(warning)).not.toMatch(/\\n\s+at |"stack"/);
  });

  test('through the customer workflow (as the CRM starts it): the failure is logged without a stack, naming the field', async () => {
    const request = acmeCoffee() as unknown as { customer: Record<string, unknown>; credits?: number };
    delete request.credits;
    const externalId = request.customer.externalId as string;
    const handle = await env.temporal.client.workflow.start('customerLifecycle', {
      args: [{ externalId, onboarding: { request } }],
      taskQueue: env.taskQueue,
      workflowId: customerWorkflowId(externalId),
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause!.message).toContain('credits: required');
    await eventually(
      async () => lines().some((l) => l.workflowId === customerWorkflowId(externalId) && l.level === 'warn'),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    const warnings = lines().filter(
      (l) => JSON.stringify(l).includes(externalId) && (l.level === 'warn' || l.level === 'error'),
    );
    // Two workflows fail — the onboarding child that refused the input, and the customer workflow that
    // reports it — one WARN line each, both naming the field, neither with a stack.
    expect(warnings.map((l) => l.workflowId).sort()).toEqual([
      customerWorkflowId(externalId),
      onboardingWorkflowId(externalId),
    ]);
    for (const warning of warnings) {
      expect(warning.level).toBe('warn');
      expect(warning.field).toBe('credits');
      expect(JSON.stringify(warning)).not.toMatch(/\\n\s+at |"stack"/);
    }
  });
});
