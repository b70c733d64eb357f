import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../../client';
import { CustomerArchivedError } from '../../client/errors';
import { customerStatusQuery, pauseSignal } from '../../common/lifecycle-messages';
import {
  acmeCoffee,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { eventId, isoIn, onboarded, orgsOf, untilState } from './helpers';
import { suspendWorkflowId } from '../../common/ids';

describe('lifecycle requests: repeats, order, long life, adoption and refusals', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  const suspendCalls = async () =>
    (await env.control.state()).requests.byRoute['POST /v1/organizations/:orgId/suspend']?.['200'] ?? 0;

  test('a repeated eventId is ignored, as a signal or as an update, however late it comes', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      const pause = { reason: 'hold', eventId: eventId('crm-pause') };
      const resume = { reason: 'paid', eventId: eventId('crm-resume') };
      const start = await suspendCalls();

      await Promise.all([
        env.crm.pause(externalId, pause),
        env.crm.pause(externalId, pause),
        env.crm.pauseAndWait(externalId, pause),
      ]);
      await untilState(env, externalId, 'suspended');
      await env.crm.resumeAndWait(externalId, resume);
      // The CRM redelivers the old pause (a webhook retry): it must not suspend the customer again.
      await env.crm.pause(externalId, pause);
      const status = await env.crm.pauseAndWait(externalId, pause);
      expect(status.state).toBe('active');
      await env.crm.resume(externalId, resume);

      const final = await env.crm.customerStatus(externalId);
      expect(final.state).toBe('active');
      expect(final.transitions.filter((t) => t.to === 'suspended').map((t) => t.eventId)).toEqual([
        pause.eventId,
      ]);
      expect(await suspendCalls()).toBe(start + 1);
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');
    });
  });

  test('out of order: a resume that arrives before its pause leaves the customer paused (arrival order decides)', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      await env.crm.resumeAndWait(externalId, { reason: 'payment received', eventId: eventId('e2') });
      const status = await env.crm.pauseAndWait(externalId, {
        reason: 'invoice overdue',
        eventId: eventId('e1'),
      });
      expect(status.state).toBe('suspended');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');
    });
  });

  test('continue-as-new keeps the state, the transitions and the eventIds already seen', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      const handle = env.crm.customerHandle(externalId);
      const firstRunId = (await handle.describe()).runId;
      const pauses: string[] = [];
      let cycles = 0;
      // The test dev server suggests continue-as-new at 150 events; each pause/resume cycle adds ~30.
      while ((await handle.describe()).runId === firstRunId) {
        expect(cycles++).toBeLessThan(20);
        const id = eventId('cycle');
        pauses.push(id);
        await env.crm.pauseAndWait(externalId, { reason: `hold ${cycles}`, eventId: id });
        await env.crm.resumeAndWait(externalId, {
          reason: `paid ${cycles}`,
          eventId: eventId('cycle-resume'),
        });
      }
      const status = await env.crm.customerStatus(externalId);
      expect(status).toMatchObject({ externalId, state: 'active', orgSuspended: false });
      expect(status.orgId).toBe((await env.crm.result(externalId)).orgId);
      expect(status.transitions.filter((t) => t.to === 'suspended').map((t) => t.eventId)).toEqual(
        pauses.slice(-status.transitions.filter((t) => t.to === 'suspended').length),
      );

      // An eventId from before the roll-over is still recognised.
      await env.crm.pauseAndWait(externalId, { reason: 'replayed', eventId: pauses[0]! });
      expect((await env.crm.customerStatus(externalId)).state).toBe('active');
      // Suspension ids keep counting across runs: no id collision with the first run's children.
      const next = await env.crm.pauseAndWait(externalId, { reason: 'after roll-over', eventId: eventId() });
      expect(next.state).toBe('suspended');
      const latest = await env.temporal.client.workflow
        .getHandle(suspendWorkflowId(externalId, pauses.length + 1))
        .describe();
      expect(latest.status.name).toBe('RUNNING');

      await env.crm.churn(externalId, { reason: 'done', eventId: eventId() });
      expect((await env.crm.customerResult(externalId)).state).toBe('archived');
    });
  });

  test('a CRM request for a customer onboarded elsewhere adopts its org; for an unknown one it is refused', async () => {
    const externalId = uniqueExternalId('legacy');
    const org = await env.layers.createOrganization(
      { name: 'Legacy Customer', metadata: { externalId } },
      { idempotencyKey: randomUUID() },
    );
    await env.run(async () => {
      await env.crm.pause(externalId, { reason: 'migrated on hold', eventId: eventId() });
      const status = await untilState(env, externalId, 'suspended');
      expect(status.orgId).toBe(org.id);
      expect(status.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['new→active', 'active→suspended']);
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');

      const unknown = uniqueExternalId('never-seen');
      const pauseId = eventId();
      await env.crm.pause(unknown, { reason: 'hold', eventId: pauseId });
      const failure = await env.crm.customerResult(unknown).then(
        () => undefined,
        (err: Error) => err.cause,
      );
      expect((failure as Error).message).toBe(
        `Customer ${unknown} is unknown: no child org with metadata.externalId "${unknown}"; onboard it first. Refused: pause (${pauseId})`,
      );
      // Failed, not completed: onboarding this customer afterwards is allowed.
      const started = await env.crm.start(acmeCoffee(unknown));
      expect(started.started).toBe(true);
      expect((await env.crm.result(unknown)).verified).toBe(true);
      expect(orgsOf(await env.control.state(), unknown).map((o) => o.status)).toEqual(['active']);
    });
  });

  test('list by state comes from the search attributes the workflow keeps current', async () => {
    await env.run(async () => {
      const paused = await onboarded(env);
      const running = await onboarded(env);
      await env.crm.pauseAndWait(paused.externalId, { reason: 'hold', eventId: eventId() });
      const suspended = await eventually(async () => {
        const list = await env.crm.list({ state: 'suspended' });
        return list.some((c) => c.externalId === paused.externalId) ? list : undefined;
      });
      expect(suspended.find((c) => c.externalId === paused.externalId)).toMatchObject({
        state: 'suspended',
        orgId: paused.result.orgId,
        workflowStatus: 'RUNNING',
      });
      expect(suspended.some((c) => c.externalId === running.externalId)).toBe(false);
      const active = await env.crm.list({ state: 'active' });
      expect(active.some((c) => c.externalId === running.externalId)).toBe(true);
      await expect(env.crm.list({ state: 'paused' as never })).rejects.toThrow(/state: must be one of/);
    });
  });

  test('bad requests: the client names the field; sent raw past the client they are recorded as refused and change nothing', async () => {
    await env.run(async () => {
      const { externalId } = await onboarded(env);
      await expect(env.crm.pause(externalId, { reason: '', eventId: eventId() })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(
        env.crm.pause(externalId, { reason: 'x', until: '2020-01-01T00:00:00Z', eventId: eventId() }),
      ).rejects.toThrow(/until: must be in the future/);
      await expect(
        env.crm.churn(externalId, { reason: 'x', drain: 'yes' as never, eventId: eventId() }),
      ).rejects.toThrow(/drain: must be true or false/);
      await expect(env.crm.resume(externalId, { reason: 'x' } as never)).rejects.toThrow(/eventId/);
      await expect(
        env.crm.pauseAndWait('bad id with spaces', { reason: 'x', eventId: eventId() }),
      ).rejects.toThrow(/externalId/);

      // A signal that bypasses the client (anything that reaches the namespace can send one).
      const handle = env.crm.customerHandle(externalId);
      await handle.signal(pauseSignal, { reason: 'x', until: 'tomorrow', eventId: 'raw-1' } as never);
      const status = await eventually(async () => {
        const s = await handle.query(customerStatusQuery);
        return s.refused.length ? s : undefined;
      });
      expect(status.refused[0]).toMatchObject({ kind: 'pause', eventId: 'raw-1' });
      expect(status.refused[0]!.why).toMatch(/^until: /);
      expect(status.state).toBe('active');
      // The update path rejects in its validator, before anything is written to history.
      const rejected = await handle
        .executeUpdate('pauseCustomer', { args: [{ reason: 'x', eventId: 42 }] })
        .catch((err: Error) => err);
      expect((rejected as Error).cause).toMatchObject({
        message: expect.stringMatching(/eventId: must be a string/),
      });
      // (The library's `result` is an update too: only a pauseCustomer update must be absent.)
      const accepted = (await handle.fetchHistory()).events!.filter(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
      );
      expect(
        accepted.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest?.input?.name),
      ).not.toContain('pauseCustomer');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');
    });
  });

  test('an archived customer stays archived: a new start is refused clearly, requests change nothing', async () => {
    await env.run(async () => {
      const request = acmeCoffee();
      const { externalId } = await onboarded(env, request.customer.externalId);
      await env.crm.churnAndWait(externalId, { reason: 'left', eventId: eventId() });
      expect((await env.crm.customerResult(externalId)).state).toBe('archived');

      await expect(env.crm.start(request)).rejects.toThrow(CustomerArchivedError);
      await env.crm.pause(externalId, { reason: 'late hold', until: isoIn(60_000), eventId: eventId() });
      const final = await env.crm.customerResult(externalId);
      expect(final.state).toBe('archived');
      expect(orgsOf(await env.control.state(), externalId).map((o) => o.status)).toEqual(['archived']);
    });
  });
});
