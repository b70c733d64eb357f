import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import { acmeCoffee, startOnboardingTestEnv } from '../helpers/onboarding-env';
import { isoIn, onboarded, untilState } from '../lifecycle/helpers';
import { onboardingWorkflowId, customerWorkflowId } from '../../common/ids';
import { offboardingWorkflowId, suspendWorkflowId } from '../../common/ids';

// Recorded histories of real runs, replayed against today's workflow code: a change that is not
// replay-safe (reordered commands, a new activity in an old path) fails here, before it reaches a
// cluster full of running customers. Re-record with RECORD_HISTORIES=1 only on purpose.
const DIR = path.resolve(__dirname, '../histories');

type Scenario = () => Promise<{
  workflowId: string;
  run: (fn: () => Promise<unknown>) => Promise<unknown>;
  close(): Promise<void>;
  fetch: () => Promise<string>;
}>;

const scenarios: Record<string, Scenario> = {
  'onboarding-happy-path': async () => {
    const env = await startOnboardingTestEnv();
    const request = acmeCoffee('acme-coffee-recorded');
    const workflowId = onboardingWorkflowId(request.customer.externalId);
    return {
      workflowId,
      close: () => env.close(),
      run: (fn) => env.run(async () => {
        await env.crm.start(request);
        await env.crm.result(request.customer.externalId);
        return fn();
      }),
      fetch: async () => showHistory(workflowId),
    };
  },
  // The customer workflow through a timed pause, an explicit pause and resume, a churn with a drain and
  // the archive; its suspend and offboarding children are recorded as scenarios of their own.
  'customer-lifecycle': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  'suspend-timer-and-resume': lifecycleScenario((externalId) => suspendWorkflowId(externalId, 1)),
  'suspend-resumed-by-request': lifecycleScenario((externalId) => suspendWorkflowId(externalId, 2)),
  'offboarding-drain': lifecycleScenario((externalId) => offboardingWorkflowId(externalId)),
  // A reconcile run that finds an org made behind the orchestrator's back and an org archived by hand.
  reconcile: async () => {
    const env = await startOnboardingTestEnv();
    const workflowId = `reconcile/manual/recorded-${Date.now().toString(36)}`;
    return {
      workflowId,
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          const { result } = await onboarded(env);
          await env.layers.archiveOrganization(result.orgId);
          await env.layers.createOrganization({ name: 'Orphan Coffee', metadata: { externalId: 'orphan-recorded' } });
          await env.temporal.client.workflow.execute('reconcile', { workflowId, taskQueue: env.taskQueue, args: [{}] });
          return fn();
        }),
      fetch: async () => showHistory(workflowId),
    };
  },
};

/** One recorded customer life serves several scenarios (each picks the execution it stores). */
function lifecycleScenario(pick: (externalId: string) => string): Scenario {
  return async () => {
    const env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
    const externalId = `acme-coffee-lifecycle-${Date.now().toString(36)}`;
    return {
      workflowId: pick(externalId),
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          const { result } = await onboarded(env, externalId);
          await env.crm.pauseAndWait(externalId, { reason: 'trial pause', until: isoIn(1_000), eventId: 'recorded-1' });
          await untilState(env, externalId, 'active');
          await env.crm.pauseAndWait(externalId, { reason: 'invoice overdue', eventId: 'recorded-2' });
          await env.crm.resume(externalId, { reason: 'paid', eventId: 'recorded-3' });
          await untilState(env, externalId, 'active');
          await env.control.usage(result.orgId, 'reserve', 100);
          await env.crm.churnAndWait(externalId, { reason: 'churned', drain: true, eventId: 'recorded-4' });
          await env.control.usage(result.orgId, 'release', 100);
          await env.crm.customerResult(externalId);
          return fn();
        }),
      fetch: async () => showHistory(pick(externalId)),
    };
  };
}

/** The CLI's JSON is the format historyFromJSON reads. */
function showHistory(workflowId: string): string {
  return execFileSync(recordedTemporalCli()!, [
    'workflow', 'show', '--workflow-id', workflowId, '--output', 'json',
    '--address', process.env.TEST_TEMPORAL_ADDRESS!, '--namespace', process.env.TEST_TEMPORAL_NAMESPACE ?? 'default',
  ], { encoding: 'utf8' });
}

const record = process.env.RECORD_HISTORIES === '1';

(record ? describe : describe.skip)('record histories (RECORD_HISTORIES=1)', () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    test(name, async () => {
      const s = await scenario();
      try {
        await s.run(async () => undefined);
        writeFileSync(path.join(DIR, `${name}.json`), (await s.fetch()) + '\n');
      } finally {
        await s.close();
      }
    });
  }
});

describe('recorded histories replay against the current workflow code', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  test('there are recorded histories for every scenario', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(expect.arrayContaining(Object.keys(scenarios).sort()));
  });

  test('every recorded history replays without non-determinism', async () => {
    const histories = files.map((file) => ({
      workflowId: file,
      history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))),
    }));
    const outcomes: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, histories)) {
      outcomes.push({ workflowId: result.workflowId, error: result.error });
    }
    expect(outcomes).toHaveLength(files.length);
    expect(outcomes.filter((o) => o.error).map((o) => `${o.workflowId}: ${(o.error as Error).message}`)).toEqual([]);
  });
});
