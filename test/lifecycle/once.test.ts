import { randomUUID } from 'node:crypto';
import { LifecycleRequestRefusedError } from '../../client/errors';
import {
  customerWorkflowId,
  offboardingWorkflowId,
  onboardingWorkflowId,
  suspendWorkflowId,
} from '../../common/ids';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { eventId, fastLifecycle, isoIn, onboarded, orgsOf, untilState, walletOf } from './helpers';

// Issue 11, the customer workflow's part: every waited request gets an answer, every child failure a
// visible state, signals to closed children are harmless, a second run never fights the first one's
// onboarding, and suspend ids never repeat.
describe('the customer workflow decides every race and answers every request', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  /** Allocation answers 500 until cleared: the onboarding stays in flight at allocate-credits (retrying). */
  const ALLOCATE_FAILS = {
    seed: 'allocate-fails',
    rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', beforeError: 1 }],
  };

  const workflowStatus = async (workflowId: string) =>
    (await env.temporal.client.workflow.getHandle(workflowId).describe()).status.name;

  /** Runs `fn`, returning the error it throws (the test fails if it does not throw) and how long it took. */
  /** Starts the customer and terminates its workflow while the onboarding's allocation is failing. */
  async function terminateDuringAllocation(externalId: string): Promise<void> {
    await env.crm.start(acmeCoffee(externalId), { timing: fastTiming, lifecycle: fastLifecycle });
    await eventually(
      async () =>
        (await env.crm.status(externalId)).steps.find((s) => s.name === 'allocate-credits')?.state ===
        'running',
    );
    await env.crm.customerHandle(externalId).terminate('operator terminated the customer during a wait');
  }

  async function refusal(fn: () => Promise<unknown>): Promise<{ error: Error; ms: number }> {
    const started = Date.now();
    const error = await fn().then(
      () => {
        throw new Error('expected a refusal');
      },
      (err: Error) => err,
    );
    return { error, ms: Date.now() - started };
  }

  test('item 2: a waited pause / resume / churn for an unknown customer is refused within seconds; no run is left and a start still works', async () => {
    await env.run(async () => {
      for (const kind of ['pause', 'resume', 'churn'] as const) {
        const externalId = uniqueExternalId(`unknown-${kind}`);
        const send = {
          pause: () => env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() }),
          resume: () => env.crm.resumeAndWait(externalId, { reason: 'paid', eventId: eventId() }),
          churn: () => env.crm.churnAndWait(externalId, { reason: 'gone', eventId: eventId() }),
        }[kind];
        const { error, ms } = await refusal(send);
        expect(error).toBeInstanceOf(LifecycleRequestRefusedError);
        expect(error.message).toContain(`customer ${externalId} is unknown`);
        expect((error as LifecycleRequestRefusedError).failureType).toBe('CustomerNotFound');
        expect(ms).toBeLessThan(10_000);
        await eventually(async () => (await workflowStatus(customerWorkflowId(externalId))) === 'FAILED');
        if (kind === 'pause') {
          // Failed, not stuck Running: the customer can be onboarded (the start does not attach to a dead end).
          const started = await env.crm.start(acmeCoffee(externalId), {
            timing: fastTiming,
            lifecycle: fastLifecycle,
          });
          expect(started.started).toBe(true);
          expect((await env.crm.result(externalId)).verified).toBe(true);
        }
      }
    });
  });

  test('item 2: a waited request for a customer whose org is archived in Layers is refused; the run completes as archived', async () => {
    const externalId = uniqueExternalId('archived-elsewhere');
    const org = await env.layers.createOrganization(
      { name: 'Gone Already', metadata: { externalId } },
      { idempotencyKey: randomUUID() },
    );
    await env.layers.archiveOrganization(org.id);
    await env.run(async () => {
      const { error, ms } = await refusal(() =>
        env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() }),
      );
      expect(error).toBeInstanceOf(LifecycleRequestRefusedError);
      expect(error.message).toContain('already archived');
      expect(ms).toBeLessThan(10_000);
      expect(await env.crm.customerResult(externalId)).toMatchObject({ state: 'archived', orgId: org.id });
    });
  });

  test('items 2 and 3: org archived behind the orchestrator: a waited pause is refused (409), the customer ends archived, no run left', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);
      await env.layers.archiveOrganization(result.orgId);
      const { error, ms } = await refusal(() =>
        env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() }),
      );
      expect(error).toBeInstanceOf(LifecycleRequestRefusedError);
      expect(error.message).toContain('archived outside the orchestrator');
      expect(error.message).toContain('CONFLICT');
      expect(ms).toBeLessThan(15_000);
      const final = await env.crm.customerResult(externalId);
      expect(final).toMatchObject({ state: 'archived', orgId: result.orgId });
      expect(await workflowStatus(customerWorkflowId(externalId))).toBe('COMPLETED');
      expect(await workflowStatus(suspendWorkflowId(externalId, 1))).toBe('FAILED');
    });
  });

  test('item 3: a terminated suspend child leaves the customer in needs-attention (not a failing task); a churn still archives it', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);
      await env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() });
      await env.temporal.client.workflow
        .getHandle(suspendWorkflowId(externalId, 1))
        .terminate('operator mistake');
      const attention = await untilState(env, externalId, 'needs-attention');
      expect(attention).toMatchObject({ orgSuspended: true, orgId: result.orgId });
      expect(attention.attention).toContain(`${suspendWorkflowId(externalId, 1)} failed: terminated`);
      expect((await env.crm.list({ state: 'needs-attention' })).map((c) => c.externalId)).toContain(
        externalId,
      );

      await env.crm.churnAndWait(externalId, { reason: 'gone', eventId: eventId() });
      expect(await env.crm.customerResult(externalId)).toMatchObject({ state: 'archived' });
      const state = await env.control.state();
      expect(orgsOf(state, externalId).map((o) => o.status)).toEqual(['archived']);
      expect(walletOf(state, result.orgId).balance).toBe(0);
    });
  });

  test('item 3: a suspend refused by Layers (403, 404) answers the waited pause with the error and shows needs-attention', async () => {
    await env.run(async () => {
      for (const code of ['FORBIDDEN_SCOPE', 'NOT_FOUND'] as const) {
        const { externalId, result } = await onboarded(env);
        await env.control.faults({
          seed: code,
          rules: [
            {
              method: 'POST',
              path: '/v1/organizations/:orgId/suspend',
              respondWith: { code, message: `injected ${code}` },
            },
          ],
        });
        try {
          const { error, ms } = await refusal(() =>
            env.crm.pauseAndWait(externalId, { reason: 'hold', eventId: eventId() }),
          );
          expect(error).toBeInstanceOf(LifecycleRequestRefusedError);
          expect(error.message).toContain(`injected ${code}`);
          expect(ms).toBeLessThan(15_000);
        } finally {
          await env.control.clearFaults();
        }
        const status = await env.crm.customerStatus(externalId);
        expect(status).toMatchObject({ state: 'needs-attention', orgSuspended: false, orgId: result.orgId });
        // The next request that succeeds clears it.
        expect(
          await env.crm.pauseAndWait(externalId, { reason: 'hold again', eventId: eventId() }),
        ).toMatchObject({ state: 'suspended' });
        expect((await env.crm.customerStatus(externalId)).attention).toBeUndefined();
      }
    });
  });

  test('item 5: a resume that reaches a suspend child which has just closed resumes the org itself', async () => {
    const { externalId } = await env.run(async () => {
      const customer = await onboarded(env);
      await env.crm.pauseAndWait(customer.externalId, { reason: 'hold', eventId: eventId() });
      return customer;
    });
    // No worker: the child's close and the resume reach the customer workflow in the same task.
    await env.temporal.client.workflow
      .getHandle(suspendWorkflowId(externalId, 1))
      .terminate('closed under the signal');
    await env.crm.resume(externalId, { reason: 'paid', eventId: eventId() });
    await env.run(async () => {
      const status = await untilState(env, externalId, 'active');
      expect(status.orgSuspended).toBe(false);
      expect(orgsOf(await env.control.state(), externalId).map((o) => o.status)).toEqual(['active']);
      expect(await workflowStatus(customerWorkflowId(externalId))).toBe('RUNNING');
    });
  });

  test('item 5: a churn whose stop signal reaches an onboarding that has just closed still archives what it made', async () => {
    const externalId = uniqueExternalId('churn-closed');
    await env.control.faults(ALLOCATE_FAILS);
    await env.run(async () => {
      await env.crm.start(acmeCoffee(externalId), { timing: fastTiming, lifecycle: fastLifecycle });
      await eventually(async () => (await env.crm.customerStatus(externalId)).orgId);
    });
    await env.control.clearFaults();
    await env.temporal.client.workflow
      .getHandle(onboardingWorkflowId(externalId))
      .terminate('closed under the signal');
    await env.crm.churn(externalId, { reason: 'gone', eventId: eventId() });
    await env.run(async () => {
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(orgsOf(await env.control.state(), externalId).map((o) => o.status)).toEqual(['archived']);
    });
  });

  test('item 5: a reactivate that reaches an offboarding which has just closed is refused, and the customer keeps running', async () => {
    const { externalId } = await env.run(async () => {
      const customer = await onboarded(env);
      await env.crm.churnAndWait(customer.externalId, {
        reason: 'next month',
        effectiveAt: isoIn(60 * 60 * 1000),
        eventId: eventId(),
      });
      return customer;
    });
    await env.temporal.client.workflow
      .getHandle(offboardingWorkflowId(externalId))
      .terminate('closed under the signal');
    const reactivateId = eventId();
    await env.crm.reactivate(externalId, { reason: 'renewed', eventId: reactivateId });
    await env.run(async () => {
      const status = await untilState(env, externalId, 'needs-attention');
      expect(status.refused.map((r) => r.eventId)).toContain(reactivateId);
      expect(status.attention).toContain(`${offboardingWorkflowId(externalId)} failed: terminated`);
      expect(orgsOf(await env.control.state(), externalId).map((o) => o.status)).toEqual(['active']);
      expect(await workflowStatus(customerWorkflowId(externalId))).toBe('RUNNING');
      // And it can still be churned.
      await env.crm.churnAndWait(externalId, { reason: 'gone', eventId: eventId() });
      expect(await env.crm.customerResult(externalId)).toMatchObject({ state: 'archived' });
    });
  });

  test("item 4: started again while the terminated run's onboarding still runs: the new run attaches to it; one org, one transfer, one key", async () => {
    const externalId = uniqueExternalId('orphan');
    await env.control.faults(ALLOCATE_FAILS);
    try {
      await env.run(async () => {
        await terminateDuringAllocation(externalId);
        expect(await workflowStatus(onboardingWorkflowId(externalId))).toBe('RUNNING');

        const again = await env.crm.start(acmeCoffee(externalId), {
          timing: fastTiming,
          lifecycle: fastLifecycle,
        });
        expect(again.started).toBe(true);
        const attached = await eventually(async () => {
          const status = await env.crm.customerStatus(externalId);
          return status.transitions.some((t) => t.reason.startsWith('attached to the onboarding'))
            ? status
            : undefined;
        });
        expect(attached.state).toBe('onboarding');
        await env.control.clearFaults();
        const active = await untilState(env, externalId, 'active');
        const state = await env.control.state();
        const orgs = orgsOf(state, externalId);
        expect(orgs.map((o) => [o.id, o.status])).toEqual([[active.orgId, 'active']]);
        expect(walletOf(state, active.orgId!).balance).toBe(5000);
        expect(
          state.transfers.filter(
            (t) => t.toOrganizationId === active.orgId && t.fromOrganizationId === state.parentOrganizationId,
          ),
        ).toHaveLength(1);
        expect(
          state.apiKeys.filter((k) => k.organizationId === active.orgId && k.status === 'active'),
        ).toHaveLength(1);
        expect(await workflowStatus(customerWorkflowId(externalId))).toBe('RUNNING');
      });
    } finally {
      await env.control.clearFaults();
    }
  });

  test('item 4: a churn while attached stops the inherited onboarding at its next safe point and archives what it made', async () => {
    const externalId = uniqueExternalId('orphan-churn');
    const before = await env.control.state();
    await env.control.faults(ALLOCATE_FAILS);
    try {
      await env.run(async () => {
        await terminateDuringAllocation(externalId);
        await env.crm.start(acmeCoffee(externalId), { timing: fastTiming, lifecycle: fastLifecycle });
        await eventually(async () =>
          (await env.crm.customerStatus(externalId)).transitions.some((t) =>
            t.reason.startsWith('attached to the onboarding'),
          ),
        );
        await env.crm.churn(externalId, { reason: 'gone', eventId: eventId() });
        await eventually(async () => (await env.crm.customerStatus(externalId)).churnPending);
        await env.control.clearFaults();
        const final = await env.crm.customerResult(externalId);
        expect(final.state).toBe('archived');
        const after = await env.control.state();
        expect(orgsOf(after, externalId).map((o) => [o.id, o.status])).toEqual([[final.orgId, 'archived']]);
        expect(
          after.apiKeys.filter((k) => k.organizationId === final.orgId && k.status !== 'revoked'),
        ).toEqual([]);
        const parent = (state: typeof after) =>
          state.wallets.find((w) => w.organizationId === state.parentOrganizationId)!.balance;
        expect(parent(after)).toBe(parent(before));
      });
    } finally {
      await env.control.clearFaults();
    }
  });

  test('item 10: suspend ids never repeat across continue-as-new, however many pauses', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      // Enough pauses for two continue-as-new after the 20-entry transition list has overflowed (the
      // dev server suggests continue-as-new at 150 events in tests).
      const cycles = 24;
      for (let n = 1; n <= cycles; n++) {
        await env.crm.pauseAndWait(externalId, { reason: `hold ${n}`, eventId: eventId() });
        await env.crm.resumeAndWait(externalId, { reason: `paid ${n}`, eventId: eventId() });
      }
      const described = await env.temporal.client.workflow
        .getHandle(customerWorkflowId(externalId))
        .describe();
      expect(described.runId).not.toBe(described.raw.workflowExecutionInfo?.firstRunId); // it did continue-as-new
      // One execution per pause, numbered 1..cycles in the order they ran: no id used twice.
      const starts: number[] = [];
      for (let n = 1; n <= cycles; n++) {
        const suspension = await env.temporal.client.workflow
          .getHandle(suspendWorkflowId(externalId, n))
          .describe();
        expect({ n, status: suspension.status.name }).toEqual({ n, status: 'COMPLETED' });
        starts.push(suspension.startTime.getTime());
      }
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    });
  }, 240_000);

  test('item 10: a second churn brings a dated offboarding forward', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      await env.crm.churnAndWait(externalId, {
        reason: 'leaving next month',
        effectiveAt: isoIn(60 * 60 * 1000),
        eventId: eventId(),
      });
      expect((await env.crm.customerStatus(externalId)).state).toBe('offboarding');
      const dated = Date.now() + 60 * 60 * 1000;
      await env.crm.churnAndWait(externalId, { reason: 'leaving now', eventId: eventId() });
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(Date.parse(final.offboarding!.archivedAt)).toBeLessThan(dated - 50 * 60 * 1000);
    });
  });
});
