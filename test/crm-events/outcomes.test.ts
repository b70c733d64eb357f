import {
  startOnboardingTestEnv,
  acmeCoffee,
  fastTiming,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { fastLifecycle, untilState } from '../lifecycle/helpers';
import { startCrmReceiver } from './receiver';

// The outcomes a CRM cannot learn without polling today — waiting for funds, failed with the Layers
// error — arrive as lifecycle events; a worker without CRM_EVENTS_URL schedules no delivery at all.

const SECRET = 'crm-outcomes-secret';

describe('lifecycle events: onboarding outcomes', () => {
  let env: OnboardingTestEnv;
  let receiver: Awaited<ReturnType<typeof startCrmReceiver>>;
  beforeAll(async () => {
    receiver = await startCrmReceiver(SECRET);
    env = await startOnboardingTestEnv({
      emulator: { parentCredits: 3000 },
      deps: { crmEvents: { url: receiver.url, signingSecret: SECRET } },
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await env?.close();
  });

  const eventsOf = (externalId: string) => receiver.order.filter((e) => e.externalId === externalId);

  test('short parent wallet: onboarding_started → waiting_for_funds → active', async () => {
    const request = acmeCoffee();
    const { externalId } = request.customer;
    await env.run(async () => {
      await env.crm.start(request, {
        timing: { ...fastTiming, fundsRecheckMs: 60_000 },
        lifecycle: fastLifecycle,
      });
      await eventually(async () => eventsOf(externalId).some((e) => e.type === 'customer.waiting_for_funds'));
      await env.control.topUp(10_000);
      await env.crm.parentFunded(externalId);
      await untilState(env, externalId, 'active');
      await eventually(async () => eventsOf(externalId).length === 3);
    });
    expect(eventsOf(externalId).map((e) => [e.sequence, e.type, e.state])).toEqual([
      [1, 'customer.onboarding_started', 'onboarding'],
      [2, 'customer.waiting_for_funds', 'onboarding'],
      [3, 'customer.active', 'active'],
    ]);
    expect(eventsOf(externalId)[2]!.orgId).toMatch(/^org_/);
  });

  test('a 422 from Layers: onboarding_failed carries the Layers error, delivered before the run fails', async () => {
    await env.control.topUp(10_000);
    await env.control.faults({
      seed: 422,
      rules: [
        {
          method: 'POST',
          path: '/v1/projects',
          respondWith: { code: 'VALIDATION', message: 'timezone: not supported in this region' },
        },
      ],
    });
    const request = acmeCoffee();
    const { externalId } = request.customer;
    try {
      await env.run(async () => {
        await env.crm.start(request, { timing: fastTiming, lifecycle: fastLifecycle });
        await env.crm.customerResult(externalId).catch(() => undefined);
      });
    } finally {
      await env.control.clearFaults();
    }
    // The customer run closed only after its last event was delivered: no waiting needed here.
    const events = eventsOf(externalId);
    expect(events.map((e) => e.type)).toEqual(['customer.onboarding_started', 'customer.onboarding_failed']);
    expect(events[1]).toMatchObject({
      state: 'failed',
      previousState: 'onboarding',
      error: expect.stringContaining('timezone: not supported in this region'),
    });
  });

  test('a worker without CRM_EVENTS_URL schedules no delivery: one marker decides it', async () => {
    const quiet = await startOnboardingTestEnv();
    try {
      const request = acmeCoffee();
      const { externalId } = request.customer;
      const history = await quiet.run(async () => {
        await quiet.crm.start(request, { timing: fastTiming, lifecycle: fastLifecycle });
        await untilState(quiet, externalId, 'active', 60_000);
        return quiet.crm.customerHandle(externalId).fetchHistory();
      });
      const scheduled = history.events!.flatMap((e) =>
        e.activityTaskScheduledEventAttributes
          ? [e.activityTaskScheduledEventAttributes.activityType!.name]
          : [],
      );
      expect(scheduled).not.toContain('publishLifecycleEvent');
      const markers = history.events!.filter((e) => e.markerRecordedEventAttributes);
      expect(markers.map((m) => m.markerRecordedEventAttributes!.markerName)).toContain(
        'core_local_activity',
      );
      expect(eventsOf(externalId)).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});
