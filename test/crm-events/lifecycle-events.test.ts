import {
  startOnboardingTestEnv,
  acmeCoffee,
  fastTiming,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { spawnWorker, untilPolling, workerEnv, type WorkerProcess } from '../helpers/processes';
import { eventually } from '../helpers/temporal';
import { eventId, fastLifecycle, untilState } from '../lifecycle/helpers';
import { startCrmReceiver } from './receiver';

// Issue 13, item 3: every state change of a customer reaches the partner's CRM (CRM_EVENTS_URL), signed,
// in order, once each — with the worker as operators run it (worker/main.ts in its own process),
// SIGKILLed between two transitions, and a CRM that answers 500 once.

const SECRET = 'crm-events-test-secret';

describe('lifecycle events to the CRM', () => {
  let env: OnboardingTestEnv;
  let receiver: Awaited<ReturnType<typeof startCrmReceiver>>;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await startOnboardingTestEnv();
    receiver = await startCrmReceiver(SECRET);
  });
  afterAll(async () => {
    workers.forEach((worker) => worker.kill());
    await receiver?.close();
    await env?.close();
  });

  const startWorkerProcess = async () => {
    // Its own process group: tsx runs the worker in a child process, and the SIGKILL must reach it.
    const worker = spawnWorker(
      { ...workerEnv(env), CRM_EVENTS_URL: receiver.url, CRM_EVENTS_SIGNING_SECRET: SECRET },
      { detached: true },
    );
    workers.push(worker);
    await untilPolling(worker);
    return worker;
  };

  const delivered = (externalId: string) =>
    receiver.order.filter((e) => e.externalId === externalId).map((e) => e.type);

  test('pause → resume → churn: each transition once, in order, across a worker SIGKILL and a 500', async () => {
    const request = acmeCoffee();
    const { externalId } = request.customer;
    // The first attempt of the pause event fails: the sender must retry it, with the same id and body.
    receiver.failOnce((e) => e.externalId === externalId && e.type === 'customer.paused');

    const first = await startWorkerProcess();
    await env.crm.start(request, { timing: fastTiming, lifecycle: fastLifecycle });
    await untilState(env, externalId, 'active', 90_000);
    await env.crm.pauseAndWait(externalId, { reason: 'invoice overdue', eventId: eventId('pause') });
    await eventually(async () => delivered(externalId).includes('customer.paused'), {
      timeoutMs: 60_000,
    }).catch(async (err: Error) => {
      const { raw } = await env.crm.customerHandle(externalId).describe();
      const pending = raw.pendingActivities?.map((a) => [
        a.activityType?.name,
        a.attempt,
        a.lastFailure?.message,
      ]);
      const history = await env.crm.customerHandle(externalId).fetchHistory();
      const kinds = history.events?.map((e) => `${e.eventType}`).join(',');
      throw new Error(
        `${err.message}; CRM got ${JSON.stringify(receiver.deliveries.map((d) => [d.status, d.body.slice(0, 80)]))}; pending ${JSON.stringify(pending)}; history ${kinds}; worker: ${first.output().slice(-1500)}`,
      );
    });

    // Between two transitions the worker dies without a goodbye; the resume arrives while none runs.
    first.kill();
    await env.crm.resume(externalId, { reason: 'paid', eventId: eventId('resume') });
    await startWorkerProcess();
    await untilState(env, externalId, 'active', 90_000);
    await env.crm.churnAndWait(externalId, { reason: 'churned', eventId: eventId('churn') });
    await env.crm.customerResult(externalId);

    // The run completes only once its last event was delivered.
    expect(delivered(externalId)).toEqual([
      'customer.onboarding_started',
      'customer.active',
      'customer.paused',
      'customer.resumed',
      'customer.offboarding_scheduled',
      'customer.offboarded',
    ]);
    const events = receiver.order.filter((e) => e.externalId === externalId);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(events.map((e) => e.id)).size).toBe(6);
    expect(events.every((e) => /^[0-9a-f-]{36}$/.test(e.id))).toBe(true);
    expect(events.find((e) => e.type === 'customer.offboarded')).toMatchObject({
      state: 'archived',
      previousState: 'offboarding',
      orgId: expect.stringMatching(/.+/),
      offboarding: { reclaimedCredits: expect.any(Number) },
    });

    // Every POST was signed (none refused), carried its id as Idempotency-Key, and a repeat of an id —
    // the retry after the 500, or a delivery cut off by the SIGKILL — is byte-for-byte the same event.
    const mine = receiver.deliveries.filter((d) => events.some((e) => e.id === d.id));
    expect(mine.filter((d) => d.status === 401 || d.status === 400)).toEqual([]);
    expect(mine.every((d) => d.idempotencyKey === d.id)).toBe(true);
    for (const d of mine) {
      const first = mine.find((o) => o.id === d.id)!;
      expect(d.body).toBe(first.body);
    }
    const paused = events.find((e) => e.type === 'customer.paused')!;
    expect(mine.filter((d) => d.id === paused.id).map((d) => d.status)).toEqual([500, 204]);
  }, 300_000);
});
