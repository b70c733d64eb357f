import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import { childrenOf, parentWallet, totalCredits } from '../helpers/emulator';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { spawnWorker, workerEnv, type WorkerProcess } from '../helpers/processes';
import { eventually } from '../helpers/temporal';

// Scale-out: three `npm run worker` processes against one Temporal server and one task queue, as
// replicas run in production. One is SIGKILLed while onboardings are mid-way; every onboarding still
// completes exactly once — one org, one allocation, one active key each — and no credit is lost or
// made up.

const CUSTOMERS = 12;
const CREDITS = 5_000;
const PARENT_CREDITS = 1_000_000;

function startWorker(env: OnboardingTestEnv, n: number): WorkerProcess {
  const logFile = path.join(env.secretsDir, '..', `scale-out-worker-${n}-${Date.now()}.log`);
  return spawnWorker(
    {
      ...workerEnv(env),
      // The nightly schedule is another suite's concern; one namespace has one.
      RECONCILE_SCHEDULE: 'off',
    },
    // Its own process group: tsx runs the worker in a child process, and SIGKILL must reach both.
    { detached: true, logFile },
  );
}

describe('scale-out: three worker processes, one SIGKILLed mid-run', () => {
  let env: OnboardingTestEnv;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: PARENT_CREDITS, tier: 'unlimited' } });
  });
  afterAll(async () => {
    for (const w of workers) w.kill();
    await env?.close();
  });

  test(`${CUSTOMERS} onboardings complete exactly once`, async () => {
    for (let n = 1; n <= 3; n++) workers.push(startWorker(env, n));
    await eventually(
      async () => {
        for (const w of workers) {
          if (w.child.exitCode !== null) throw new Error(`a worker exited early:\n${w.output()}`);
        }
        return workers.every((w) => w.output().includes('worker: polling'));
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    const before = await env.control.state();

    // Allocations take 1.5 s, so every worker has some in flight when one of them dies.
    await env.control.faults({
      seed: 'scale-out',
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [1500, 1500] }],
    });
    const externalIds = Array.from({ length: CUSTOMERS }, () => uniqueExternalId('scale'));
    await Promise.all(
      externalIds.map((id) =>
        env.crm.start(
          { ...acmeCoffee(id), credits: CREDITS },
          { timing: { ...fastTiming, activityTimeoutMs: 5_000 } },
        ),
      ),
    );
    // Mid-run: some allocations done, not all.
    await eventually(
      async () => {
        const transfers = (await env.control.state()).transfers.filter(
          (t) => t.trigger === 'allocate',
        ).length;
        return transfers >= 2 && transfers < CUSTOMERS;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const victim = workers[0]!;
    victim.kill();
    await env.control.clearFaults();

    const results = await Promise.all(externalIds.map((id) => env.crm.result(id)));
    expect(results.map((r) => r.verified)).toEqual(externalIds.map(() => true));

    const state = await env.control.state();
    const children = childrenOf(state).filter((o) => externalIds.includes(o.metadata?.externalId));
    // N customers → N orgs, one each.
    expect(children.map((o) => o.metadata.externalId).sort()).toEqual([...externalIds].sort());
    const orgIds = new Set(children.map((o) => o.id as string));
    // N allocations, one per org, each the requested amount.
    const allocations = state.transfers.filter(
      (t) => t.trigger === 'allocate' && orgIds.has(t.toOrganizationId),
    );
    expect(allocations.map((t) => t.toOrganizationId).sort()).toEqual([...orgIds].sort());
    expect(allocations.every((t) => t.credits === CREDITS)).toBe(true);
    // N active keys, one per org.
    const activeKeys = state.apiKeys.filter((k) => orgIds.has(k.organizationId) && k.status === 'active');
    expect(activeKeys.map((k) => k.organizationId).sort()).toEqual([...orgIds].sort());
    // Balances conserved: what the parent gave is exactly what the children hold; nothing made or lost.
    for (const id of orgIds)
      expect(state.wallets.find((w) => w.organizationId === id)!.balance).toBe(CREDITS);
    expect(parentWallet(state).balance).toBe(parentWallet(before).balance - CUSTOMERS * CREDITS);
    expect(totalCredits(state)).toBe(totalCredits(before));

    // The kill landed mid-run: work the victim held was taken over — an activity retried on another
    // worker after its timeout, or a workflow task whose sticky worker was gone.
    let takenOver = 0;
    for (const id of externalIds) {
      for (const workflowId of [onboardingWorkflowId(id), customerWorkflowId(id)]) {
        const events: temporal.api.history.v1.IHistoryEvent[] =
          (await env.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
        takenOver += events.filter(
          (e) =>
            (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 || e.workflowTaskTimedOutEventAttributes,
        ).length;
      }
    }
    expect(takenOver).toBeGreaterThan(0);

    // The two survivors are still running; the victim died without a word.
    expect(workers.slice(1).map((w) => w.child.exitCode)).toEqual([null, null]);
    expect(victim.output()).not.toContain('worker: stopped');
  });
});
