import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { LayersClient } from '../../activities/layers';
import { childrenOf, parentWallet } from '../helpers/emulator';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { onboardingWorkflowId } from '../../common/ids';

describe('onboarding: the guide "Provision and fund a customer", run by Temporal', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => env?.close());

  test('ends in exactly "What you have now"', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const before = parentWallet(await env.control.state()).balance;

    const result = await env.run(async () => {
      await env.crm.start(request);
      return env.crm.result(externalId);
    });

    const state = await env.control.state();
    const children = childrenOf(state).filter((o) => o.metadata?.externalId === externalId);
    expect(children).toHaveLength(1);
    const org = children[0];
    expect(org).toMatchObject({ id: result.orgId, name: 'Acme Coffee', status: 'active' });
    expect(org.metadata).toMatchObject({
      externalId,
      plan: 'growth',
      onboardingWorkflowId: onboardingWorkflowId(externalId),
    });

    const keys = state.apiKeys.filter((k) => k.organizationId === org.id);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ id: result.apiKey.id, status: 'active', name: 'acme-integration' });
    expect([...keys[0].scopes].sort()).toEqual(['content:read', 'content:write']);

    const transfers = state.transfers.filter((t) => t.toOrganizationId === org.id);
    expect(transfers).toEqual([
      expect.objectContaining({ id: result.transferId, credits: 5000, trigger: 'allocate' }),
    ]);
    expect(state.wallets.find((w) => w.organizationId === org.id)).toMatchObject({
      balance: 5000,
      available: 5000,
    });
    expect(parentWallet(state).balance).toBe(before - 5000);

    expect(state.creditConfigs.find((c) => c.organizationId === org.id)).toMatchObject({
      monthlyCreditCap: 5000,
      refillThreshold: 1000,
      refillAmount: 2000,
      autoRefillEnabled: true,
    });
    const endpoints = state.webhookEndpoints.filter(
      (e) => e.url === 'https://quinns-crm.example.com/layers/webhooks',
    );
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ id: result.firehoseEndpointId, scope: 'all_children' });
    expect(state.projects.filter((p) => p.organizationId === org.id)).toEqual([
      expect.objectContaining({
        id: result.projectId,
        name: 'Acme Coffee',
        timezone: 'America/Los_Angeles',
        customerExternalId: externalId,
      }),
    ]);
    expect(result).toMatchObject({
      verified: true,
      allocated: 5000,
      balance: 5000,
      creditConfig: { autoRefillEnabled: true },
    });
  });

  test('the minted secret reaches the sink (0600) and authenticates as the child, and never enters history', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const result = await env.run(async () => {
      await env.crm.start(request);
      return env.crm.result(externalId);
    });
    const file = path.join(env.secretsDir, `api-key-${result.apiKey.id}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.secret.startsWith(result.apiKey.prefix)).toBe(true);

    const asChild = new LayersClient({ baseUrl: env.emulator.url, apiKey: stored.secret });
    try {
      expect((await asChild.whoami()).organizationId).toBe(result.orgId);
    } finally {
      await asChild.close();
    }

    const history = await env.temporal.client.workflow
      .getHandle(onboardingWorkflowId(externalId))
      .fetchHistory();
    const text = JSON.stringify(history);
    expect(text).not.toContain(stored.secret);
    expect(text).not.toContain(env.emulator.parentKey);
    for (const name of readdirSync(env.secretsDir)) {
      const secret = JSON.parse(readFileSync(path.join(env.secretsDir, name), 'utf8')).secret as string;
      expect(text).not.toContain(secret);
    }
  });

  test('operators see search attributes, a summary and per-step details; the status query matches', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    const result = await env.run(async () => {
      await env.crm.start(request);
      return env.crm.result(externalId);
    });
    const handle = env.temporal.client.workflow.getHandle(onboardingWorkflowId(externalId));
    const description = await handle.describe();
    expect(
      description.typedSearchAttributes.get({ name: 'LayersCustomerId', type: 'KEYWORD' } as never),
    ).toBe(externalId);
    expect(description.searchAttributes).toMatchObject({
      LayersCustomerId: [externalId],
      LayersOrgId: [result.orgId],
      LayersOnboardingStep: ['completed'],
      LayersLifecycleState: ['active'],
    });
    expect(await description.staticSummary()).toBe(`Onboard Acme Coffee (${externalId})`);

    const status = await env.run(() => env.crm.status(externalId));
    expect(status.state).toBe('completed');
    expect(status.steps.map((s) => [s.name, s.state])).toEqual([
      ['preflight', 'done'],
      ['create-org', 'done'],
      ['mint-key', 'done'],
      ['allocate-credits', 'done'],
      ['credit-config', 'done'],
      ['firehose', 'done'],
      ['project', 'done'],
      ['verify', 'done'],
    ]);

    // The org id finds both the customer's lifecycle workflow and its onboarding child.
    const listed = await env.temporal.client.workflow.list({ query: `LayersOrgId = "${result.orgId}"` });
    const found: string[] = [];
    for await (const wf of listed) found.push(`${wf.type} ${wf.workflowId}`);
    expect(found.sort()).toEqual([
      `customerLifecycle customer/${externalId}`,
      `onboardCustomer ${onboardingWorkflowId(externalId)}`,
    ]);

    // Activity summaries are what the UI's event list shows.
    const history = await handle.fetchHistory();
    const summaries = history
      .events!.filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => e.userMetadata?.summary?.data && Buffer.from(e.userMetadata.summary.data).toString());
    expect(summaries.join('\n')).toContain(`Create the child org for ${externalId}`);
  });

  test('starting the same customer twice never creates a second org', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      const [a, b] = await Promise.all([env.crm.start(request), env.crm.start(request)]);
      expect(a.runId).toBe(b.runId);
      expect([a.started, b.started]).toContain(true);
      await env.crm.result(externalId);
      // Once onboarded, the customer's workflow lives on (active): a new start attaches to it.
      const again = await env.crm.start(request);
      expect(again).toMatchObject({ started: false, runId: a.runId, workflowId: `customer/${externalId}` });
    });
    const state = await env.control.state();
    expect(childrenOf(state).filter((o) => o.metadata?.externalId === externalId)).toHaveLength(1);
  });
});
