import path from 'node:path';
import { childrenOf, parentWallet, totalCredits, type EmulatorState } from '../helpers/emulator';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { spawnWorker, workerEnv } from '../helpers/processes';
import { eventually } from '../helpers/temporal';

const WRITE_ROUTES = [
  ['POST', '/v1/organizations'],
  ['POST', '/v1/organizations/:orgId/api-keys'],
  ['POST', '/v1/organizations/:orgId/credits/allocate'],
  ['PATCH', '/v1/organizations/:orgId/credit-config'],
  ['POST', '/v1/webhook-endpoints'],
  ['POST', '/v1/projects'],
] as const;

/** Exactly one org, one key, one transfer per customer; the parent debited once per customer. */
function expectExactlyOnce(state: EmulatorState, externalIds: string[], credits: number) {
  for (const externalId of externalIds) {
    const orgs = childrenOf(state).filter((o) => o.metadata?.externalId === externalId);
    expect(orgs).toHaveLength(1);
    expect(state.apiKeys.filter((k) => k.organizationId === orgs[0].id)).toHaveLength(1);
    const transfers = state.transfers.filter(
      (t) => t.toOrganizationId === orgs[0].id && t.trigger === 'allocate',
    );
    expect(transfers).toHaveLength(1);
    expect(transfers[0]!.credits).toBe(credits);
    expect(state.wallets.find((w) => w.organizationId === orgs[0].id)!.balance).toBe(credits);
  }
}

describe('onboarding survives lost responses, platform errors, rate limits and a killed worker', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterEach(async () => {
    await env.control.clearFaults();
  });
  afterAll(async () => env?.close());

  test('responses dropped after commit, 500s and 429s on every write route: still exactly once', async () => {
    const before = await env.control.state();
    await env.control.faults({
      seed: 'exactly-once',
      rules: [
        // Every write's first attempt commits and loses its response…
        ...WRITE_ROUTES.map(([method, path]) => ({
          method,
          path,
          afterCommitDrop: 1,
          firstAttemptOnly: true,
        })),
        // …and its retries meet 500s, 429s and more lost responses.
        ...WRITE_ROUTES.map(([method, path]) => ({
          method,
          path,
          afterCommitDrop: 0.2,
          beforeError: 0.15,
          rateLimited: 0.15,
        })),
      ],
    });
    const customers = Array.from({ length: 4 }, () => acmeCoffee());
    await env.run(async () => {
      await Promise.all(customers.map((c) => env.crm.start(c, { timing: { retryMaxIntervalMs: 2_000 } })));
      await Promise.all(customers.map((c) => env.crm.result(c.customer.externalId)));
    });
    const state = await env.control.state();
    expectExactlyOnce(
      state,
      customers.map((c) => c.customer.externalId),
      5000,
    );
    expect(parentWallet(state).balance).toBe(parentWallet(before).balance - 4 * 5000);
    expect(totalCredits(state)).toBe(totalCredits(before));
    // The faults really fired: some writes committed with no response, some were refused.
    const faults = (await fetch(`${env.emulator.url}/_emulator/faults`).then((r) => r.json())) as {
      history?: Array<Record<string, unknown>>;
    };
    expect(faults.history!.some((d) => d.afterCommitDrop)).toBe(true);
    expect(faults.history!.some((d) => d.beforeError)).toBe(true);
    expect(faults.history!.some((d) => d.rateLimited)).toBe(true);
    // Each customer's first attempt on each write route was dropped (the firehose endpoint is shared).
    for (const [method, path] of WRITE_ROUTES) {
      const dropped = state.requests.byRoute[`${method} ${path}`]?.dropped ?? 0;
      expect({ route: path, dropped: dropped >= (path === '/v1/webhook-endpoints' ? 1 : 4) }).toEqual({
        route: path,
        dropped: true,
      });
    }
    const allocates = state.requests.byRoute['POST /v1/organizations/:orgId/credits/allocate'] ?? {};
    const allocateAttempts = Object.values(allocates).reduce((a, b) => a + b, 0);
    expect(allocateAttempts).toBeGreaterThan(4);
  });

  test('a worker killed with SIGKILL mid-onboarding: a new worker finishes with no duplicate anything', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    // Allocation takes 2 s, so the worker dies while the transfer is being committed.
    await env.control.faults({
      seed: 1,
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [2000, 2000] }],
    });
    // Its own process group (tsx runs the worker in a child process): the kill reaches both.
    const worker = spawnWorker(workerEnv(env), {
      detached: true,
      inheritEnv: true,
      logFile: path.join(env.secretsDir, '..', 'worker-process.log'),
    });
    try {
      await env.crm.start(request, { timing: { ...fastTiming, activityTimeoutMs: 4_000 } });
      await eventually(
        async () => {
          const state = await env.control.state();
          const org = childrenOf(state).find((o) => o.metadata?.externalId === externalId);
          return (
            org &&
            state.apiKeys.some((k) => k.organizationId === org.id) &&
            !state.transfers.some((t) => t.toOrganizationId === org.id)
          );
        },
        { timeoutMs: 60_000 },
      );
      // Let the allocate request reach the emulator, then kill the worker without a chance to clean up.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      worker.kill();
    }
    await env.control.clearFaults();
    const result = await env.run(() => env.crm.result(externalId));
    expect(result.verified).toBe(true);
    expectExactlyOnce(await env.control.state(), [externalId], 5000);
  });
});

export { uniqueExternalId };
