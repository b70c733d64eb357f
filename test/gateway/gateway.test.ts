import SwaggerParser from '@apidevtools/swagger-parser';
import { WorkflowNotFoundError } from '@temporalio/client';
import { customerWorkflowId } from '../../common/ids';
import { signGatewayRequest } from '../../gateway/signature';
import { childrenOf, parentWallet } from '../helpers/emulator';
import { acmeCoffee, uniqueExternalId } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { CRM_TOKEN, startGatewayTestEnv, type GatewayTestEnv } from './helpers';

// Over real HTTP: CRM → gateway → dev server → worker → emulator.

/** The body a CRM sends: what `start` takes, externalId from the path. */
function onboardingBody(externalId: string, overrides: Record<string, unknown> = {}) {
  const { customer, ...rest } = acmeCoffee(externalId);
  return {
    ...rest,
    customer: { name: customer.name, metadata: customer.metadata, billingEmail: customer.billingEmail },
    ...overrides,
  };
}

async function customerWorkflowExists(g: GatewayTestEnv, externalId: string): Promise<boolean> {
  try {
    await g.env.temporal.client.workflow.getHandle(customerWorkflowId(externalId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

describe('CRM gateway', () => {
  let g: GatewayTestEnv;
  beforeAll(async () => {
    g = await startGatewayTestEnv();
  });
  afterAll(async () => {
    await g?.close();
  });

  test('a signed onboarding reaches active; GET shows the state, org, steps and Web UI links', async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-acme');
      const path = `/v1/customers/${externalId}/onboarding`;
      const res = await g.call('POST', path, {
        body: onboardingBody(externalId),
        key: `deal-won-${externalId}`,
        prefer: 'wait=60',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('location')).toBe(`/v1/customers/${externalId}`);
      expect(res.headers.get('preference-applied')).toBe('wait=60');
      expect(res.json).toMatchObject({
        externalId,
        customerWorkflowId: `customer/${externalId}`,
        onboardingWorkflowId: `onboarding/${externalId}`,
        outcome: { state: 'active', result: { verified: true, allocated: 5000 } },
      });
      const orgId = (res.json.outcome as { result: { orgId: string } }).result.orgId;
      const view = await eventually(async () => {
        const r = await g.call('GET', `/v1/customers/${externalId}`);
        return r.json.state === 'active' ? r : undefined;
      });
      expect(view.status).toBe(200);
      expect(view.json).toMatchObject({
        externalId,
        state: 'active',
        orgId,
        workflowStatus: 'RUNNING',
        onboarding: { state: 'completed' },
      });
      const links = view.json.workflows as Array<{ kind: string; url: string }>;
      expect(links.map((l) => l.kind)).toEqual(expect.arrayContaining(['customer', 'onboarding']));
      expect(links[0]!.url).toMatch(
        /^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/customer%2F/,
      );

      // The list through visibility finds it by state, page by page.
      const listed = await eventually(async () => {
        const r = await g.call('GET', `/v1/customers?state=active&limit=100`);
        return (r.json.items as Array<{ externalId: string }>).some((i) => i.externalId === externalId)
          ? r
          : undefined;
      });
      expect(listed.status).toBe(200);
      const page = await g.call('GET', '/v1/customers?limit=1');
      expect((page.json.items as unknown[]).length).toBe(1);
      if (page.json.nextCursor) {
        const next = await g.call(
          'GET',
          `/v1/customers?limit=1&cursor=${encodeURIComponent(String(page.json.nextCursor))}`,
        );
        expect(next.status).toBe(200);
      }
      expect((await g.call('GET', '/v1/customers?state=sleeping')).json).toMatchObject({
        status: 400,
        field: 'state',
      });
      expect((await g.call('GET', `/v1/customers/nobody-${externalId}`)).status).toBe(404);
    });
  });

  test('the same request 20 times at once: one workflow, one org, one transfer, identical answers', async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-twenty');
      const body = onboardingBody(externalId);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          g.call('POST', `/v1/customers/${externalId}/onboarding`, { body, key: `crm-evt-${externalId}` }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
      expect(new Set(answers.map((a) => JSON.stringify(a.json))).size).toBe(1);
      await g.env.crm.result(externalId);
      const { executions } = await g.env.temporal.client.workflowService.listWorkflowExecutions({
        namespace: 'default',
        query: `WorkflowId = 'customer/${externalId}'`,
      });
      expect(executions).toHaveLength(1);
      const state = await g.env.control.state();
      const orgs = childrenOf(state).filter((o) => o.metadata?.externalId === externalId);
      expect(orgs).toHaveLength(1);
      expect(state.transfers.filter((t) => t.toOrganizationId === orgs[0].id)).toHaveLength(1);

      // Later repeats still answer the same; the same key with another body is a 409 naming the field.
      const again = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body,
        key: `crm-evt-${externalId}`,
      });
      expect(again.json).toEqual(answers[0]!.json);
      const other = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body: { ...body, credits: 9000 },
        key: `crm-evt-${externalId}`,
      });
      expect(other.status).toBe(409);
      expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(other.json).toMatchObject({ status: 409, field: 'credits' });
      expect(
        childrenOf(await g.env.control.state()).filter((o) => o.metadata?.externalId === externalId),
      ).toHaveLength(1);
    });
  });

  test('unsigned, expired, wrongly signed or replayed-with-another-body requests get 401 and start nothing', async () => {
    const externalId = uniqueExternalId('gw-auth');
    const path = `/v1/customers/${externalId}/onboarding`;
    const body = onboardingBody(externalId);
    const raw = JSON.stringify(body);
    const key = `k-${externalId}`;
    const attempts = [
      await g.call('POST', path, { body, key, signature: '' }),
      await g.call('POST', path, { body, key, signAt: Date.now() - 6 * 60_000 }),
      await g.call('POST', path, { body, key, secret: 'not-the-crm-secret-0123456789' }),
      await g.call('POST', path, {
        body: { ...body, credits: 1_000_000 },
        key,
        signature: signGatewayRequest('crm-signing-secret-0123456789abcdef', 'POST', path, raw),
      }),
      await g.call('POST', `/v1/customers/${externalId}x/onboarding`, {
        body,
        key,
        signature: signGatewayRequest('crm-signing-secret-0123456789abcdef', 'POST', path, raw),
      }),
      await g.call('POST', path, {
        body,
        key,
        headers: { authorization: 'Bearer wrong-token-0123456789abcdef' },
      }),
      await g.call('GET', '/openapi.json', { signature: '' }),
      await g.call('GET', '/readyz', { signature: '' }),
    ];
    for (const a of attempts) {
      expect(a.status).toBe(401);
      expect(a.json).toMatchObject({ status: 401, type: 'urn:layers-onboarding:problem:unauthorized' });
    }
    expect(await customerWorkflowExists(g, externalId)).toBe(false);
    expect(await customerWorkflowExists(g, `${externalId}x`)).toBe(false);
    expect((await g.call('GET', '/healthz', { signature: '' })).status).toBe(200);
    expect(
      (await g.call('GET', '/readyz', { headers: { authorization: `Bearer ${CRM_TOKEN}` } })).json,
    ).toEqual({ ok: true, temporal: 'reachable' });

    // Authenticated but bad: problem+json naming the field; no key → 400; too big → 413.
    const noKey = await g.call('POST', path, { body });
    expect(noKey.json).toMatchObject({ status: 400, field: 'Idempotency-Key' });
    const bad = await g.call('POST', path, { body: { ...body, credits: -5 }, key });
    expect(bad.json).toMatchObject({ status: 422, field: 'credits' });
    const huge = await g.call('POST', path, {
      body: { ...body, customer: { ...body.customer, metadata: { a: 'x'.repeat(40_000) } } },
      key,
    });
    expect(huge.status).toBe(413);
    const notJson = await g.call('POST', path, { rawBody: '{"credits":', key });
    expect(notJson.status).toBe(400);
    expect(await customerWorkflowExists(g, externalId)).toBe(false);
  });

  test('pause → resume → churn through HTTP: each state shows in GET; the org ends archived with its credits reclaimed', async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-life');
      const before = await g.env.control.state();
      const onboarded = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body: onboardingBody(externalId),
        key: `won-${externalId}`,
        prefer: 'wait=60',
      });
      expect(onboarded.json).toMatchObject({ outcome: { state: 'active' } });
      const orgId = (onboarded.json.outcome as { result: { orgId: string } }).result.orgId;
      const stateOf = async () => (await g.call('GET', `/v1/customers/${externalId}`)).json.state;

      const paused = await g.call('POST', `/v1/customers/${externalId}/pause`, {
        body: { reason: 'payment failed' },
        key: `pause-${externalId}`,
        prefer: 'wait=30',
      });
      expect(paused.status).toBe(200);
      expect(paused.json).toMatchObject({
        kind: 'pause',
        eventId: `pause-${externalId}`,
        status: { state: 'suspended', orgSuspended: true },
      });
      expect(await stateOf()).toBe('suspended');
      // A repeat answers the same; the same key with another reason is refused, naming it.
      const repeat = await g.call('POST', `/v1/customers/${externalId}/pause`, {
        body: { reason: 'payment failed' },
        key: `pause-${externalId}`,
        prefer: 'wait=30',
      });
      expect(repeat.json).toEqual(paused.json);
      const otherReason = await g.call('POST', `/v1/customers/${externalId}/pause`, {
        body: { reason: 'support hold' },
        key: `pause-${externalId}`,
      });
      expect(otherReason.json).toMatchObject({ status: 409, field: 'reason' });
      const reusedForResume = await g.call('POST', `/v1/customers/${externalId}/resume`, {
        body: { reason: 'payment failed' },
        key: `pause-${externalId}`,
      });
      expect(reusedForResume.status).toBe(409);

      const resumed = await g.call('POST', `/v1/customers/${externalId}/resume`, {
        body: { reason: 'paid', eventId: `resume-${externalId}` },
      });
      expect(resumed.status).toBe(202);
      await eventually(async () => (await stateOf()) === 'active');

      const churned = await g.call('POST', `/v1/customers/${externalId}/churn`, {
        body: { reason: 'cancelled' },
        key: `churn-${externalId}`,
        prefer: 'wait=30',
      });
      expect(churned.status).toBe(200);
      expect(['offboarding', 'archived']).toContain((churned.json.status as { state: string }).state);
      await eventually(async () => (await stateOf()) === 'archived', { timeoutMs: 60_000 });
      const view = await g.call('GET', `/v1/customers/${externalId}`);
      expect(view.json).toMatchObject({
        state: 'archived',
        workflowStatus: 'COMPLETED',
        offboarding: { reclaimedCredits: 5000 },
      });
      expect((view.json.workflows as Array<{ kind: string }>).map((w) => w.kind)).toEqual(
        expect.arrayContaining(['customer', 'onboarding', 'suspend', 'offboarding']),
      );

      const after = await g.env.control.state();
      expect(after.organizations.find((o) => o.id === orgId).status).toBe('archived');
      expect(after.wallets.find((w) => w.organizationId === orgId)!.balance).toBe(0);
      expect(parentWallet(after).balance).toBe(parentWallet(before).balance);

      // Out of order: a pause of an archived customer, and onboarding it again, are refused.
      expect(
        (
          await g.call('POST', `/v1/customers/${externalId}/pause`, {
            body: { reason: 'late' },
            key: `late-${externalId}`,
          })
        ).json,
      ).toMatchObject({
        status: 409,
        type: 'urn:layers-onboarding:problem:customer-archived',
      });
      expect(
        (
          await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
            body: onboardingBody(externalId),
            key: `again-${externalId}`,
          })
        ).status,
      ).toBe(409);
    });
  });

  test('OpenAPI document is served and valid', async () => {
    const res = await g.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const api = await SwaggerParser.validate(structuredClone(res.json) as never);
    expect(Object.keys(api.paths ?? {})).toEqual(
      expect.arrayContaining([
        '/v1/customers/{externalId}/onboarding',
        '/v1/customers/{externalId}/pause',
        '/v1/customers/{externalId}/resume',
        '/v1/customers/{externalId}/churn',
        '/v1/customers/{externalId}/reactivate',
        '/v1/customers/{externalId}',
        '/v1/customers',
        '/layers/webhooks',
      ]),
    );
  });
});

describe('CRM gateway limits', () => {
  test('per-caller rate limit answers 429 with Retry-After, as problem+json', async () => {
    const { buildGateway } = await import('../../gateway/server');
    const { CustomerService } = await import('../../gateway/customers');
    const { OnboardingClient } = await import('../../client/onboarding-client');
    const { connectTestTemporal } = await import('../helpers/temporal');
    const temporal = await connectTestTemporal();
    const app = await buildGateway({
      credentials: { signingSecrets: [], bearerTokens: [CRM_TOKEN, 'another-crm-token-0123456789'] },
      service: new CustomerService(new OnboardingClient(temporal.client, 'unused'), {
        namespace: 'default',
        temporalUiUrl: 'http://127.0.0.1:8233',
      }),
      rateLimitPerMinute: 2,
    });
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const get = (token: string) =>
        fetch(`${url}/openapi.json`, { headers: { authorization: `Bearer ${token}` } });
      expect((await get(CRM_TOKEN)).status).toBe(200);
      expect((await get(CRM_TOKEN)).status).toBe(200);
      const limited = await get(CRM_TOKEN);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await limited.json()).toMatchObject({ status: 429 });
      // Another caller has its own budget.
      expect((await get('another-crm-token-0123456789')).status).toBe(200);
    } finally {
      await app.close();
      await temporal.close();
    }
  });
});
