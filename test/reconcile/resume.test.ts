import type { temporal } from '@temporalio/proto';
import { ORGANIZATIONS_PAGE_SIZE } from '../../activities/reconcile';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { reconcileNow, reconcileWorker } from './helpers';

// The scan heartbeats its cursor and its tally after every page; when an attempt fails mid-scan, the
// retry starts from the heartbeat's cursor instead of from the first page, and counts nothing twice.

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ORGS = 2 * ORGANIZATIONS_PAGE_SIZE + 50; // three pages

describe('reconcile: a failed scan attempt resumes from its heartbeat', () => {
  let env: OnboardingTestEnv;

  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { tier: 'unlimited' } });
  });
  afterAll(async () => {
    await env?.close();
  });

  test('the third page fails once: the retry re-reads only that page; every org is counted once', async () => {
    for (let i = 0; i < ORGS; i++) await env.layers.createOrganization({ name: `Stray ${i}` });
    // Seed 102 at p = 0.5 fails exactly the third listing request of the next eight; the latency
    // gives each page's heartbeat time to leave the worker before the next page is read.
    await env.control.faults({
      seed: 102,
      rules: [{ method: 'GET', path: '/v1/organizations', beforeError: 0.5, latencyMs: [300, 300] }],
    });
    const worker = await reconcileWorker(env, { maxHeartbeatThrottleInterval: '50ms' });
    const { report, workflowId } = await worker.runUntil(() => reconcileNow(env, { checkWallets: false }));
    const plan = (await (await fetch(`${env.emulator.url}/_emulator/faults`)).json()) as {
      history: Array<{ route: string; beforeError: boolean }>;
    };
    await env.control.clearFaults();

    expect(report.scanned).toMatchObject({ organizations: ORGS, customers: 0, wallets: 0, pages: 3 });
    expect(report.counts['org-without-customer']).toBe(ORGS);
    const listings = plan.history.filter((h) => h.route === 'GET /v1/organizations');
    expect(listings.map((h) => h.beforeError)).toEqual([false, false, true, false]);

    const events: HistoryEvent[] =
      (await env.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const scanId = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scanForDrift',
    )?.eventId;
    const started = events.filter(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scanId),
    );
    // One started event, recorded for the attempt that completed: its attempt number is 2.
    expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([2]);
  });
});
