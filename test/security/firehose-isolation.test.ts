// Issue 14 item 2: no customer receives another's events. The partner firehose is worker configuration
// (one `all_children` endpoint); a customer's own URL is a child-scoped endpoint that gets only its org's
// events, and offboarding deletes it. Asserted through the emulator's endpoints and delivery log.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createFirehoseActivities,
  MANAGED_BY,
  partnerFirehoseIdempotencyKey,
  type HostResolver,
  type PartnerFirehoseResult,
} from '../../activities/firehose';
import { FileSecretSink } from '../../activities/secret-sink';
import {
  acmeCoffee,
  PARTNER_FIREHOSE,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';

const URL_A = 'https://hooks.customer-a.example/layers';
const URL_B = 'https://hooks.customer-b.example/layers';
const resolveHost: HostResolver = async () => [{ address: '203.0.113.10', family: 4 }];

async function emit(env: OnboardingTestEnv, organizationId: string): Promise<string> {
  const res = await fetch(`${env.emulator.url}/_emulator/webhooks/emit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organizationId, type: 'content.generated', data: { contentId: randomUUID() } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { eventId: string }).eventId;
}

describe('webhooks: partner firehose vs customer endpoints', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ deps: { resolveHost } });
  });
  afterAll(async () => env?.close());

  test('two customers with their own URLs each receive only their own org’s events; offboarding deletes the endpoint', async () => {
    const a = {
      ...acmeCoffee(uniqueExternalId('hooks-a')),
      firehose: { url: URL_A, events: ['post.published', 'content.generated'] as const },
    };
    const b = {
      ...acmeCoffee(uniqueExternalId('hooks-b')),
      firehose: { url: URL_B, events: ['content.generated'] as const },
    };
    const [resultA, resultB] = await env.run(async () => {
      await Promise.all([
        env.crm.start({ ...a, firehose: { ...a.firehose, events: [...a.firehose.events] } }),
        env.crm.start({ ...b, firehose: { ...b.firehose, events: [...b.firehose.events] } }),
      ]);
      return Promise.all([env.crm.result(a.customer.externalId), env.crm.result(b.customer.externalId)]);
    });

    let state = await env.control.state();
    const endpointA = state.webhookEndpoints.find((e) => e.url === URL_A);
    const endpointB = state.webhookEndpoints.find((e) => e.url === URL_B);
    // Child-scoped, inside each customer's org; the events sorted like the idempotency key.
    expect(endpointA).toMatchObject({
      id: resultA.firehoseEndpointId,
      scope: 'own',
      organizationId: resultA.orgId,
      events: ['content.generated', 'post.published'],
    });
    expect(endpointB).toMatchObject({
      id: resultB.firehoseEndpointId,
      scope: 'own',
      organizationId: resultB.orgId,
    });
    expect(
      state.webhookEndpoints.filter(
        (e) => e.scope === 'all_children' && (e.url === URL_A || e.url === URL_B),
      ),
    ).toEqual([]);
    // Exactly one partner endpoint at the configured URL, on the parent.
    const partner = state.webhookEndpoints.filter(
      (e) => e.url === PARTNER_FIREHOSE.url && e.status === 'enabled',
    );
    expect(partner).toEqual([
      expect.objectContaining({ scope: 'all_children', organizationId: state.parentOrganizationId }),
    ]);

    const eventA = await emit(env, resultA.orgId);
    const eventB = await emit(env, resultB.orgId);
    state = await env.control.state();
    const deliveredTo = (endpointId: string) =>
      state.webhookDeliveries
        .filter((d) => d.endpointId === endpointId)
        .map((d) => `${d.eventId}@${d.organizationId}`);
    expect(deliveredTo(endpointA.id)).toEqual([`${eventA}@${resultA.orgId}`]);
    expect(deliveredTo(endpointB.id)).toEqual([`${eventB}@${resultB.orgId}`]);
    expect(deliveredTo(partner[0].id).sort()).toEqual(
      [`${eventA}@${resultA.orgId}`, `${eventB}@${resultB.orgId}`].sort(),
    );

    // Both signing secrets went to the sink (never to history): the customer's under its endpoint id.
    const files = readdirSync(env.secretsDir);
    expect(files).toEqual(
      expect.arrayContaining([
        `webhook-signing-secret-${endpointA.id}.json`,
        `webhook-signing-secret-${endpointB.id}.json`,
      ]),
    );

    // Offboarding A deletes A's endpoint (and only A's); A's later events reach no customer endpoint.
    await env.run(async () => {
      await env.crm.churnAndWait(a.customer.externalId, { reason: 'cancelled', eventId: randomUUID() });
      return env.crm.customerResult(a.customer.externalId);
    });
    state = await env.control.state();
    expect(state.webhookEndpoints.find((e) => e.id === endpointA.id)).toMatchObject({ status: 'deleted' });
    expect(state.webhookEndpoints.find((e) => e.id === endpointB.id)).toMatchObject({ status: 'enabled' });
  });
});

describe('ensurePartnerFirehose (activity, against the emulator)', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => env?.close());

  const activitiesFor = (events: string[]) =>
    createFirehoseActivities({
      layers: env.layers,
      secretSink: new FileSecretSink(env.secretsDir),
      firehose: { url: 'https://partner.example/firehose', events },
    });

  test('concurrent ensures with events in another order make one endpoint, whose body matches its key', async () => {
    const mock = new MockActivityEnvironment();
    // Separate factories = separate worker processes: no shared in-process memo.
    const results: PartnerFirehoseResult[] = await Promise.all(
      [
        ['post.published', 'content.generated'],
        ['content.generated', 'post.published'],
        ['post.published', 'content.generated'],
      ].map(
        (events) => mock.run(activitiesFor(events).ensurePartnerFirehose) as Promise<PartnerFirehoseResult>,
      ),
    );
    const state = await env.control.state();
    const at = state.webhookEndpoints.filter(
      (e) => e.url === 'https://partner.example/firehose' && e.status === 'enabled',
    );
    expect(at).toHaveLength(1);
    expect(at[0]).toMatchObject({
      scope: 'all_children',
      events: ['content.generated', 'post.published'],
      metadata: { managedBy: MANAGED_BY },
    });
    expect(new Set(results.map((r) => r.endpointId))).toEqual(new Set([at[0].id]));
    expect(
      partnerFirehoseIdempotencyKey('https://partner.example/firehose', [
        'post.published',
        'content.generated',
      ]),
    ).toBe(
      partnerFirehoseIdempotencyKey('https://partner.example/firehose', [
        'content.generated',
        'post.published',
      ]),
    );
    expect(readdirSync(env.secretsDir)).toContain(`firehose-signing-secret-${at[0].id}.json`);

    // Configured events change: an endpoint missing the new event is not reused; the old one is replaced.
    const changed = (await mock.run(
      activitiesFor(['content.generated', 'post.published', 'job.completed']).ensurePartnerFirehose,
    )) as PartnerFirehoseResult;
    const after = await env.control.state();
    const enabled = after.webhookEndpoints.filter(
      (e) => e.url === 'https://partner.example/firehose' && e.status === 'enabled',
    );
    expect(enabled).toEqual([
      expect.objectContaining({
        id: changed.endpointId,
        events: ['content.generated', 'job.completed', 'post.published'],
      }),
    ]);
    expect(changed).toMatchObject({ outcome: 'created', replaced: [at[0].id] });
  });

  test('an existing per-customer all_children endpoint at the partner URL is adopted, not duplicated', async () => {
    const legacy = await env.layers.createWebhookEndpoint({
      url: 'https://adopt.example/firehose',
      events: ['content.generated'],
      scope: 'all_children',
    });
    const activities = createFirehoseActivities({
      layers: env.layers,
      secretSink: new FileSecretSink(env.secretsDir),
      firehose: { url: 'https://adopt.example/firehose', events: ['content.generated'] },
    });
    expect(await new MockActivityEnvironment().run(activities.ensurePartnerFirehose)).toMatchObject({
      endpointId: legacy.id,
      outcome: 'adopted',
    });
    const state = await env.control.state();
    expect(state.webhookEndpoints.filter((e) => e.url === 'https://adopt.example/firehose')).toHaveLength(1);
  });

  test('not configured: nothing is created', async () => {
    const activities = createFirehoseActivities({
      layers: env.layers,
      secretSink: new FileSecretSink(env.secretsDir),
    });
    expect(await new MockActivityEnvironment().run(activities.ensurePartnerFirehose)).toEqual({
      configured: false,
    });
  });
});

describe('migration command (scripts/firehose-endpoints.ts)', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => env?.close());

  const cli = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.resolve('scripts/firehose-endpoints.ts'), ...args],
        {
          env: {
            ...process.env,
            LAYERS_API_URL: env.emulator.url,
            LAYERS_PARENT_KEY: env.emulator.parentKey,
            LAYERS_FIREHOSE_URL: 'https://partner.example/firehose',
            LAYERS_FIREHOSE_EVENTS: 'post.published,content.generated',
          },
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) => resolve({ code, out }));
    });

  test('lists old per-customer all_children endpoints as such and deletes only the ones named', async () => {
    const partner = await env.layers.createWebhookEndpoint({
      url: 'https://partner.example/firehose',
      events: ['content.generated', 'post.published'],
      scope: 'all_children',
    });
    const leaky = await env.layers.createWebhookEndpoint({
      url: 'https://one-customer.example/hooks',
      events: ['content.generated'],
      scope: 'all_children',
    });
    const listed = await cli(['list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(
      new RegExp(`${partner.id} .*partner firehose \\(LAYERS_FIREHOSE_URL\\): keep`),
    );
    expect(listed.out).toMatch(new RegExp(`${leaky.id} .*receives every customer's events`));
    expect(listed.out).not.toContain(env.emulator.parentKey);

    expect((await cli(['delete', leaky.id])).code).toBe(0);
    const state = await env.control.state();
    expect(state.webhookEndpoints.find((e) => e.id === leaky.id)).toMatchObject({ status: 'deleted' });
    expect(state.webhookEndpoints.find((e) => e.id === partner.id)).toMatchObject({ status: 'enabled' });
    expect((await cli(['delete'])).code).toBe(2);
  });
});
