import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import { acmeCoffee, fastTiming, startOnboardingTestEnv } from '../helpers/onboarding-env';
import type { OnboardingRequest } from '../../common/onboarding-input';
import { eventually } from '../helpers/temporal';
import { fastLifecycle, isoIn, onboarded, untilState } from '../lifecycle/helpers';
import { onboardingWorkflowId, customerWorkflowId } from '../../common/ids';
import { offboardingWorkflowId, suspendWorkflowId } from '../../common/ids';
import { startCrmReceiver } from '../crm-events/receiver';

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

/** An onboarding run to its result: its own history is recorded. */
function onboardingScenario(externalId: () => string): Scenario {
  return async () => {
    const env = await startOnboardingTestEnv();
    const request = acmeCoffee(externalId());
    const workflowId = onboardingWorkflowId(request.customer.externalId);
    return {
      workflowId,
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          await env.crm.start(request);
          await env.crm.result(request.customer.externalId);
          return fn();
        }),
      fetch: async () => showHistory(workflowId),
    };
  };
}

const scenarios: Record<string, Scenario> = {
  // Every patch so far in one shape (exactly-once v2, partner firehose, CRM events, unchanged upserts
  // skipped): an onboarding and a whole customer life as today's code writes them.
  'onboarding-current': onboardingScenario(() => `acme-coffee-current-${Date.now().toString(36)}`),
  'customer-lifecycle-current': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  'offboarding-current': lifecycleScenario((externalId) => offboardingWorkflowId(externalId)),
  // Issue 12's lean shape (patch lean-onboarding): local reads, no per-step upserts, no orgCreated signal,
  // the result through the customer's onboardingResult update, a pause during onboarding asking for the org.
  'onboarding-lean': onboardingScenario(() => `acme-coffee-lean-${Date.now().toString(36)}`),
  'customer-lean': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  'customer-lean-pause-during-onboarding': customerScenario(async (env, externalId) => {
    await env.crm.start(acmeCoffee(externalId));
    await env.crm.pause(externalId, { reason: 'invoice overdue', eventId: 'recorded-lean-1' });
    await env.crm.result(externalId);
    await untilState(env, externalId, 'suspended');
  }),
  'onboarding-lean-pause-during-onboarding': customerScenario(
    async (env, externalId) => {
      await env.crm.start(acmeCoffee(externalId));
      await env.crm.pause(externalId, { reason: 'invoice overdue', eventId: 'recorded-lean-2' });
      await env.crm.result(externalId);
      await untilState(env, externalId, 'suspended');
    },
    (externalId) => onboardingWorkflowId(externalId),
  ),
  'onboarding-happy-path': onboardingScenario(() => 'acme-coffee-recorded'),
  // Issue 11's shape: validation recorded once (local activity), look-ups before writes, behind
  // patched('onboarding-exactly-once-v2').
  'onboarding-exactly-once-v2': onboardingScenario(() => `acme-coffee-v2-${Date.now().toString(36)}`),
  // A funds wait that continues-as-new: the first run (ending in ContinueAsNew) is stored.
  'onboarding-funds-wait-continued': async () => {
    const env = await startOnboardingTestEnv({ emulator: { parentCredits: 1000 } });
    const request = acmeCoffee(`acme-coffee-wait-${Date.now().toString(36)}`);
    const workflowId = onboardingWorkflowId(request.customer.externalId);
    let firstRunId = '';
    return {
      workflowId,
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          await env.crm.start(request, { timing: { fundsRecheckMs: 100, waitRoundsPerRun: 2 } });
          const handle = env.temporal.client.workflow.getHandle(workflowId);
          firstRunId = await eventually(async () => (await handle.describe()).runId);
          await eventually(async () => (await handle.describe()).runId !== firstRunId);
          await env.control.topUp(10_000);
          await env.crm.result(request.customer.externalId);
          return fn();
        }),
      fetch: async () => showHistory(workflowId, firstRunId),
    };
  },
  // The customer workflow through a timed pause, an explicit pause and resume, a churn with a drain and
  // the archive; its suspend and offboarding children are recorded as scenarios of their own.
  'customer-lifecycle': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  'suspend-timer-and-resume': lifecycleScenario((externalId) => suspendWorkflowId(externalId, 1)),
  'suspend-resumed-by-request': lifecycleScenario((externalId) => suspendWorkflowId(externalId, 2)),
  'offboarding-drain': lifecycleScenario((externalId) => offboardingWorkflowId(externalId)),
  // Issue 14: the partner firehose step on the write queue plus a customer's child-scoped endpoint
  // (patch `partner-firehose`), and its deletion at offboarding (patch `delete-customer-webhooks`).
  'onboarding-customer-webhook': customerWebhookScenario((externalId) => onboardingWorkflowId(externalId)),
  'offboarding-customer-webhook': customerWebhookScenario((externalId) => offboardingWorkflowId(externalId)),
  // The same life after the customer workflow's reshape (patch customer-attach-running-onboarding).
  'customer-lifecycle-v2': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  // A terminated suspend child: needs-attention, a resume that lifts the pause itself, then a churn.
  'customer-needs-attention': customerScenario(async (env, externalId) => {
    await onboarded(env, externalId);
    await env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: 'recorded-1' });
    await env.temporal.client.workflow.getHandle(suspendWorkflowId(externalId, 1)).terminate('recorded');
    await untilState(env, externalId, 'needs-attention');
    await env.crm.resumeAndWait(externalId, { reason: 'paid', eventId: 'recorded-2' });
    await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: 'recorded-3' });
    await env.crm.customerResult(externalId);
  }),
  // A second run attached to the onboarding its terminated predecessor left running.
  'customer-attached-onboarding': customerScenario(async (env, externalId) => {
    await env.control.faults({
      seed: 'recorded',
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', beforeError: 1 }],
    });
    await env.crm.start(acmeCoffee(externalId), { timing: fastTiming, lifecycle: fastLifecycle });
    await eventually(
      async () =>
        (await env.crm.status(externalId)).steps.find((s) => s.name === 'allocate-credits')?.state ===
        'running',
    );
    await env.crm.customerHandle(externalId).terminate('recorded');
    await env.crm.start(acmeCoffee(externalId), { timing: fastTiming, lifecycle: fastLifecycle });
    await eventually(async () =>
      (await env.crm.customerStatus(externalId)).transitions.some((t) => t.reason.startsWith('attached')),
    );
    await env.control.clearFaults();
    await untilState(env, externalId, 'active');
    await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: 'recorded-1' });
    await env.crm.customerResult(externalId);
  }),
  // A waited pause for a customer Layers does not know: refused, the run fails.
  'customer-unknown-refused': customerScenario(async (env, externalId) => {
    await env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: 'recorded-1' }).catch(() => undefined);
    await env.crm.customerResult(externalId).catch(() => undefined);
  }),
  // Issue 13: lifecycle events to the CRM (patch crm-lifecycle-events): the local activity that asks
  // whether CRM_EVENTS_URL is set, then one publishLifecycleEvent per transition, in order.
  'customer-crm-events': async () => {
    const receiver = await startCrmReceiver('recorded-secret');
    const env = await startOnboardingTestEnv({
      emulator: { parentCredits: 1_000_000 },
      deps: { crmEvents: { url: receiver.url, signingSecret: 'recorded-secret' } },
    });
    const externalId = `acme-coffee-crm-events-${Date.now().toString(36)}`;
    return {
      workflowId: customerWorkflowId(externalId),
      close: async () => {
        await env.close();
        await receiver.close();
      },
      run: (fn) =>
        env.run(async () => {
          await onboarded(env, externalId);
          await env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: 'recorded-1' });
          await env.crm.resumeAndWait(externalId, { reason: 'paid', eventId: 'recorded-2' });
          await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: 'recorded-3' });
          await env.crm.customerResult(externalId);
          return fn();
        }),
      fetch: async () => showHistory(customerWorkflowId(externalId)),
    };
  },
  // The onboarding child tells its customer it waits for funds (patch crm-lifecycle-events in onboarding).
  'onboarding-waiting-signal': async () => {
    const env = await startOnboardingTestEnv({ emulator: { parentCredits: 3000 } });
    const request = acmeCoffee(`acme-coffee-waiting-${Date.now().toString(36)}`);
    const externalId = request.customer.externalId;
    return {
      workflowId: onboardingWorkflowId(externalId),
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          await env.crm.start(request, { timing: { ...fastTiming, fundsRecheckMs: 60_000 } });
          await eventually(async () => (await env.crm.status(externalId)).waitingFor === 'waiting for funds');
          await env.control.topUp(10_000);
          await env.crm.parentFunded(externalId);
          await env.crm.result(externalId);
          return fn();
        }),
      fetch: async () => showHistory(onboardingWorkflowId(externalId)),
    };
  },
  // A dated offboarding brought forward by a second churn.
  'offboarding-brought-forward': customerScenario(
    async (env, externalId) => {
      await onboarded(env, externalId);
      await env.crm.churnAndWait(externalId, {
        reason: 'next month',
        effectiveAt: isoIn(60 * 60 * 1000),
        eventId: 'recorded-1',
      });
      await env.crm.churnAndWait(externalId, { reason: 'now', eventId: 'recorded-2' });
      await env.crm.customerResult(externalId);
    },
    (externalId) => offboardingWorkflowId(externalId),
  ),
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
          await env.layers.createOrganization({
            name: 'Orphan Coffee',
            metadata: { externalId: 'orphan-recorded' },
          });
          await env.temporal.client.workflow.execute('reconcile', {
            workflowId,
            taskQueue: env.taskQueue,
            args: [{}],
          });
          return fn();
        }),
      fetch: async () => showHistory(workflowId),
    };
  },
  // Issue 14 item 8: every workflow checks its own input (patch workflow-input-boundary); onboarding in
  // its recorded validation, the others in plain code; a signal carrying key material is refused.
  'customer-boundary': lifecycleScenario((externalId) => customerWorkflowId(externalId)),
  'onboarding-boundary': lifecycleScenario((externalId) => onboardingWorkflowId(externalId)),
  'suspend-boundary': lifecycleScenario((externalId) => suspendWorkflowId(externalId, 2)),
  'offboarding-boundary': lifecycleScenario((externalId) => offboardingWorkflowId(externalId)),
  'customer-boundary-secret-refused': customerScenario(async (env, externalId) => {
    await onboarded(env, externalId);
    const handle = env.crm.customerHandle(externalId);
    await handle.signal('pause', { reason: 'key lp_live_plantedByTest', eventId: 'recorded-1' });
    await eventually(async () =>
      (await env.crm.customerStatus(externalId)).refused.some((r) => r.eventId === 'recorded-1'),
    );
    await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: 'recorded-2' });
    await env.crm.customerResult(externalId);
  }),
  'customer-boundary-ids-refused': customerScenario(async (env, externalId) => {
    await env.temporal.client.workflow.start('customerLifecycle', {
      workflowId: customerWorkflowId(externalId),
      taskQueue: env.taskQueue,
      args: [{ externalId, onboarding: { request: acmeCoffee(`${externalId}-other`) } }],
    });
    await env.crm.customerResult(externalId).catch(() => undefined);
  }),
};

/** A customer scenario of its own: `act` drives it, `pick` chooses the execution stored. */
function customerScenario(
  act: (env: Awaited<ReturnType<typeof startOnboardingTestEnv>>, externalId: string) => Promise<void>,
  pick: (externalId: string) => string = customerWorkflowId,
): Scenario {
  return async () => {
    const env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
    const externalId = `acme-coffee-recorded-${Date.now().toString(36)}`;
    return {
      workflowId: pick(externalId),
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          await act(env, externalId);
          return fn();
        }),
      fetch: async () => showHistory(pick(externalId)),
    };
  };
}

function customerWebhookScenario(pick: (externalId: string) => string): Scenario {
  return async () => {
    const env = await startOnboardingTestEnv({
      deps: { resolveHost: async () => [{ address: '203.0.113.10', family: 4 }] },
    });
    const request: OnboardingRequest = {
      ...acmeCoffee(`acme-coffee-webhook-${Date.now().toString(36)}`),
      firehose: {
        url: 'https://hooks.acme-coffee.example/layers',
        events: ['post.published', 'content.generated'],
      },
    };
    const externalId = request.customer.externalId;
    return {
      workflowId: pick(externalId),
      close: () => env.close(),
      run: (fn) =>
        env.run(async () => {
          await env.crm.start(request);
          await env.crm.result(externalId);
          await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: 'recorded-webhook-1' });
          await env.crm.customerResult(externalId);
          return fn();
        }),
      fetch: async () => showHistory(pick(externalId)),
    };
  };
}

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
          await env.crm.pauseAndWait(externalId, {
            reason: 'trial pause',
            until: isoIn(1_000),
            eventId: 'recorded-1',
          });
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
function showHistory(workflowId: string, runId?: string): string {
  return execFileSync(
    recordedTemporalCli()!,
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      ...(runId ? ['--run-id', runId] : []),
      '--output',
      'json',
      '--address',
      process.env.TEST_TEMPORAL_ADDRESS!,
      '--namespace',
      process.env.TEST_TEMPORAL_NAMESPACE ?? 'default',
    ],
    { encoding: 'utf8' },
  );
}

const record = process.env.RECORD_HISTORIES === '1';
/** RECORD_ONLY=a,b re-records only those scenarios (the others' histories are what old runs look like). */
const recordOnly = process.env.RECORD_ONLY?.split(',').filter(Boolean);

(record ? describe : describe.skip)('record histories (RECORD_HISTORIES=1)', () => {
  for (const [name, scenario] of Object.entries(scenarios).filter(
    ([name]) => !recordOnly || recordOnly.includes(name),
  )) {
    test(name, async () => {
      const s = await scenario();
      try {
        await s.run(async () => undefined);
        writeFileSync(path.join(DIR, `${name}.json`), (await s.fetch()) + '\n');
        writeFileSync(path.join(DIR, `${name}.workflow-id`), s.workflowId + '\n');
      } finally {
        await s.close();
      }
    });
  }
});

/**
 * The id the history was recorded under: workflows check their input against their own id (patch
 * workflow-input-boundary), so a replay must see the real one. Histories recorded before that patch have
 * no `.workflow-id` file and replay under their file name, as they always did.
 */
function recordedWorkflowId(file: string): string {
  const idFile = path.join(DIR, file.replace(/\.json$/, '.workflow-id'));
  return existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : file;
}

describe('recorded histories replay against the current workflow code', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  test('there are recorded histories for every scenario', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(
      expect.arrayContaining(Object.keys(scenarios).sort()),
    );
  });

  test('every recorded history replays without non-determinism', async () => {
    const histories = files.map((file) => ({
      workflowId: recordedWorkflowId(file),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))),
    }));
    const outcomes: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } },
      histories,
    )) {
      outcomes.push({ workflowId: result.workflowId, error: result.error });
    }
    expect(outcomes).toHaveLength(files.length);
    expect(
      outcomes.filter((o) => o.error).map((o) => `${o.workflowId}: ${(o.error as Error).message}`),
    ).toEqual([]);
  });
});
