import { childrenOf, parentWallet, totalCredits } from '../helpers/emulator';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';

describe('100 concurrent onboardings', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { tier: 'unlimited' } });
  });
  afterAll(async () => env?.close());

  test('make 100 children, one firehose endpoint, and conserve credits', async () => {
    const before = await env.control.state();
    const customers = Array.from({ length: 100 }, (_, i) => ({ ...acmeCoffee(), credits: 100 + i }));
    const results = await env.run(async () => {
      await Promise.all(customers.map((c) => env.crm.start(c)));
      return Promise.all(customers.map((c) => env.crm.result(c.customer.externalId)));
    });
    const state = await env.control.state();
    const ours = new Set(customers.map((c) => c.customer.externalId));
    const children = childrenOf(state).filter((o) => ours.has(o.metadata?.externalId));
    expect(children).toHaveLength(100);
    expect(new Set(results.map((r) => r.orgId)).size).toBe(100);
    expect(
      state.webhookEndpoints.filter((e) => e.url === 'https://quinns-crm.example.com/layers/webhooks'),
    ).toHaveLength(1);
    expect(new Set(results.map((r) => r.firehoseEndpointId)).size).toBe(1);
    const allocated = customers.reduce((sum, c) => sum + c.credits, 0);
    expect(state.transfers.filter((t) => t.trigger === 'allocate')).toHaveLength(100);
    expect(parentWallet(state).balance).toBe(parentWallet(before).balance - allocated);
    expect(totalCredits(state)).toBe(totalCredits(before));
  });
});
