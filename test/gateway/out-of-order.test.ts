import { childrenOf } from '../helpers/emulator';
import { acmeCoffee, uniqueExternalId } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { startGatewayTestEnv, type GatewayTestEnv } from './helpers';

// The README's table of out-of-order CRM events, as answered over HTTP.

function onboardingBody(externalId: string) {
  const { customer, ...rest } = acmeCoffee(externalId);
  return { ...rest, customer: { name: customer.name } };
}

describe('out-of-order CRM events', () => {
  let g: GatewayTestEnv;
  beforeAll(async () => {
    g = await startGatewayTestEnv();
  });
  afterAll(async () => {
    await g?.close();
  });

  test('churn before any onboarding, then the onboarding; pause and onboarding of an offboarding customer', async () => {
    await g.env.run(async () => {
      // Churn before any onboarding (Layers has no such org): 404 with the wait; nothing created; the
      // onboarding that follows is still allowed and runs.
      const externalId = uniqueExternalId('gw-early');
      const orgsBefore = (await g.env.control.state()).organizations.length;
      const churn = await g.call('POST', `/v1/customers/${externalId}/churn`, {
        body: { reason: 'cancelled' },
        key: `churn-${externalId}`,
        prefer: 'wait=30',
      });
      expect(churn.json).toMatchObject({
        status: 404,
        type: 'urn:layers-onboarding:problem:customer-not-found',
      });
      expect((await g.env.control.state()).organizations.length).toBe(orgsBefore);
      const onboard = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body: onboardingBody(externalId),
        key: `won-${externalId}`,
        prefer: 'wait=60',
      });
      expect(onboard.json).toMatchObject({ outcome: { state: 'active' } });

      // A customer whose churn is scheduled (offboarding): a pause changes nothing, onboarding with the
      // same body answers with the same workflow (no second org), with another body 409; reactivate
      // cancels the churn.
      const later = uniqueExternalId('gw-off');
      const first = await g.call('POST', `/v1/customers/${later}/onboarding`, {
        body: onboardingBody(later),
        key: `won-${later}`,
        prefer: 'wait=60',
      });
      const scheduled = await g.call('POST', `/v1/customers/${later}/churn`, {
        body: { reason: 'non-renewal', effectiveAt: new Date(Date.now() + 3_600_000).toISOString() },
        key: `churn-${later}`,
        prefer: 'wait=30',
      });
      expect(scheduled.json).toMatchObject({ status: { state: 'offboarding' } });
      const pause = await g.call('POST', `/v1/customers/${later}/pause`, {
        body: { reason: 'late' },
        key: `pause-${later}`,
        prefer: 'wait=30',
      });
      // Refused, not silently ignored: the CRM learns its pause was not applied; the churn stands.
      expect(pause.json).toMatchObject({
        status: 422,
        type: 'urn:layers-onboarding:problem:request-refused',
      });
      expect(pause.json.detail).toMatch(/offboarding/);
      expect((await g.call('GET', `/v1/customers/${later}`)).json).toMatchObject({
        state: 'offboarding',
        orgSuspended: false,
      });
      const again = await g.call('POST', `/v1/customers/${later}/onboarding`, {
        body: onboardingBody(later),
        key: `won2-${later}`,
      });
      expect(again.status).toBe(202);
      expect(again.json.customerRunId).toBe(first.json.customerRunId);
      const other = await g.call('POST', `/v1/customers/${later}/onboarding`, {
        body: { ...onboardingBody(later), credits: 1 },
        key: `won3-${later}`,
      });
      expect(other.json).toMatchObject({ status: 409, field: 'credits' });
      expect(
        childrenOf(await g.env.control.state()).filter((o) => o.metadata?.externalId === later),
      ).toHaveLength(1);
      const reactivate = await g.call('POST', `/v1/customers/${later}/reactivate`, {
        body: { reason: 'renewed' },
        key: `re-${later}`,
      });
      expect(reactivate.status).toBe(202);
      await eventually(async () => (await g.call('GET', `/v1/customers/${later}`)).json.state === 'active');
      const otherReactivate = await g.call('POST', `/v1/customers/${later}/reactivate`, {
        body: { reason: 'changed mind' },
        key: `re-${later}`,
      });
      expect(otherReactivate.json).toMatchObject({ status: 409, field: 'reason' });
    });
  });

  test('after continue-as-new the onboarding memo still answers a repeat (and a different body still gets 409)', async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-can');
      const body = onboardingBody(externalId);
      const first = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body,
        key: `won-${externalId}`,
        prefer: 'wait=60',
      });
      expect(first.json).toMatchObject({ outcome: { state: 'active' } });
      const handle = g.env.temporal.client.workflow.getHandle(`customer/${externalId}`);
      const firstRunId = (await handle.describe()).runId;
      // The test dev server suggests continue-as-new at 150 events; each pause/resume cycle adds ~30.
      for (let cycle = 0; (await handle.describe()).runId === firstRunId; cycle++) {
        expect(cycle).toBeLessThan(20);
        await g.call('POST', `/v1/customers/${externalId}/pause`, {
          body: { reason: 'hold' },
          key: `p-${cycle}-${externalId}`,
          prefer: 'wait=30',
        });
        await g.call('POST', `/v1/customers/${externalId}/resume`, {
          body: { reason: 'paid' },
          key: `r-${cycle}-${externalId}`,
          prefer: 'wait=30',
        });
      }
      const description = await handle.describe();
      // The server carries the memo into the new run.
      expect(description.memo).toMatchObject({
        onboardingIdempotencyKey: `won-${externalId}`,
        onboardingRequestHash: first.json.requestHash,
      });
      const again = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body,
        key: `won-${externalId}`,
      });
      expect(again.status).toBe(202);
      expect(again.json.customerRunId).toBe(first.json.customerRunId);
      const other = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body: { ...body, credits: 7 },
        key: `won-${externalId}`,
      });
      expect(other.status).toBe(409);
    });
  });
});
