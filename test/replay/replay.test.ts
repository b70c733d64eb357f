import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { onboardingWorkflowId } from '../../workflows/onboarding-input';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import { acmeCoffee, startOnboardingTestEnv } from '../helpers/onboarding-env';

// Recorded histories of real runs, replayed against today's workflow code: a change that is not
// replay-safe (reordered commands, a new activity in an old path) fails here, before it reaches a
// cluster full of running customers. Re-record with RECORD_HISTORIES=1 only on purpose.
const DIR = path.resolve(__dirname, '../histories');

const scenarios: Record<string, () => Promise<{ workflowId: string; run: (fn: () => Promise<unknown>) => Promise<unknown>; close(): Promise<void> } & { fetch: () => Promise<string> }>> = {
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
};

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
