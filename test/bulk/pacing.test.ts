import { childrenOf } from '../helpers/emulator';
import { startOnboardingTestEnv, uniqueExternalId, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { pacingFor } from '../../worker/pacing';
import type { OnboardingRequest } from '../../common/onboarding-input';

/** Three writes (create org, mint key, allocate) and two read activities (whoami; verify: 3 reads) each. */
const minimal = (externalId: string): OnboardingRequest => ({
  customer: { externalId, name: externalId },
  credits: 10,
});

function rateLimitedBy(
  byRoute: Record<string, Record<string, number>>,
  skip: string[] = [],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [route, statuses] of Object.entries(byRoute))
    if (statuses['429'] && !skip.includes(route)) out[route] = statuses['429'];
  return out;
}

describe('pacing: server-side task-queue rate limits keep Layers calls under the key budget', () => {
  describe('a tiny custom tier (60 reads, 30 writes a minute)', () => {
    let env: OnboardingTestEnv;
    beforeAll(async () => {
      env = await startOnboardingTestEnv({ tuning: { pacing: pacingFor('tiny', { read: 60, write: 30 }) } });
      await env.control.rateLimits({ tier: 'tiny', limits: { read: 60, write: 30, longRunning: 10 } });
    });
    afterAll(async () => env?.close());

    test('with both buckets drained first, three onboardings make no 429 and take as long as the budget says', async () => {
      // Empty both buckets (a full bucket holds a minute of budget, which would hide any burst), using
      // routes the onboarding never calls; stop at the first 429.
      const call = (method: string, route: string) =>
        fetch(`${env.emulator.url}${route}`, {
          method,
          headers: { authorization: `Bearer ${env.emulator.parentKey}`, 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        }).then(async (res) => (await res.arrayBuffer(), res.status));
      const drain = async (method: string, route: string) => {
        for (let i = 0; i < 200; i++) if ((await call(method, route)) === 429) return;
        throw new Error(`${method} ${route} never got a 429`);
      };
      await drain('PATCH', '/v1/organizations/org_00000000-0000-4000-8000-000000000000');
      await drain('GET', '/v1/projects/prj_drain');
      // Let a few tokens back: verify takes three reads at once.
      await new Promise((resolve) => setTimeout(resolve, 3_500));

      const ids = Array.from({ length: 3 }, () => uniqueExternalId('tiny'));
      const started = Date.now();
      await env.run(async () => {
        await Promise.all(ids.map((id) => env.crm.start(minimal(id))));
        await Promise.all(ids.map((id) => env.crm.result(id)));
      });
      const elapsedMs = Date.now() - started;

      const state = await env.control.state();
      expect(
        rateLimitedBy(state.requests.byRoute, [
          'PATCH /v1/organizations/:orgId',
          'GET /v1/projects/:projectId',
        ]),
      ).toEqual({});
      for (const id of ids)
        expect(childrenOf(state).filter((o) => o.metadata?.externalId === id)).toHaveLength(1);
      // 9 writes out of an empty bucket refilling at 0.5 a second: unpaced they would have taken ~1 s and
      // tripped the limit; paced at 97 % of the budget they cannot finish before ~8 × 2.06 s.
      expect(elapsedMs).toBeGreaterThan(16_000);
    });
  });

  describe('a 429 that still happens', () => {
    let env: OnboardingTestEnv;
    beforeAll(async () => {
      env = await startOnboardingTestEnv();
    });
    afterAll(async () => env?.close());

    test('is retried after its Retry-After and the onboarding completes with exactly one org and one transfer', async () => {
      await env.control.faults({
        seed: 42,
        rules: [
          { method: 'POST', path: '/v1/organizations', rateLimited: 0.6 },
          { method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', rateLimited: 0.6 },
        ],
      });
      const id = uniqueExternalId('retry-after');
      const result = await env.run(async () => {
        await env.crm.start(minimal(id));
        return env.crm.result(id);
      });
      const state = await env.control.state();
      const limited = rateLimitedBy(state.requests.byRoute);
      expect(
        (limited['POST /v1/organizations'] ?? 0) +
          (limited['POST /v1/organizations/:orgId/credits/allocate'] ?? 0),
      ).toBeGreaterThan(0);
      const orgs = childrenOf(state).filter((o) => o.metadata?.externalId === id);
      expect(orgs.map((o) => o.id)).toEqual([result.orgId]);
      expect(state.transfers.filter((t) => t.toOrganizationId === result.orgId)).toEqual([
        expect.objectContaining({ id: result.transferId, credits: 10, trigger: 'allocate' }),
      ]);

      // Each retry waited for the Retry-After (1 s), not the retry policy's own backoff.
      const history = await env.crm.handle(id).fetchHistory();
      const events = history.events ?? [];
      const startedRetries = events.filter(
        (e) =>
          e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1,
      );
      expect(startedRetries.length).toBeGreaterThan(0);
      for (const e of startedRetries) {
        expect(e.activityTaskStartedEventAttributes!.lastFailure?.applicationFailureInfo?.type).toBe(
          'LayersRetryableError',
        );
        expect(e.activityTaskStartedEventAttributes!.lastFailure?.message).toMatch(/429 RATE_LIMITED/);
      }
    });
  });
});
