import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FileSecretSink } from '../../activities/secret-sink';
import { hmacHex } from '../../gateway/signature';
import { acmeCoffee, uniqueExternalId } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { startGatewayTestEnv, type GatewayTestEnv } from './helpers';

// The partner firehose: emulator → gateway /layers/webhooks → attributed → test CRM receiver.

async function emit(
  g: GatewayTestEnv,
  organizationId: string,
  data: Record<string, unknown> = {},
): Promise<string> {
  const res = await fetch(`${g.env.emulator.url}/_emulator/webhooks/emit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organizationId, type: 'post.published', data }),
  });
  expect(res.status).toBeLessThan(300);
  return ((await res.json()) as { eventId: string }).eventId;
}

function sinkSecrets(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith('webhook-signing-secret-'))
    .map((n) => (JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as { secret: string }).secret);
}

/** Posts a delivery to the gateway as Layers would, signed with `secret` at time `t`. */
async function deliver(g: GatewayTestEnv, body: object, secret: string, t = Math.floor(Date.now() / 1000)) {
  const raw = JSON.stringify(body);
  const res = await fetch(`${g.url}/layers/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-layers-event-id': (body as { id: string }).id,
      'x-layers-signature': `t=${t},v1=${hmacHex(secret, `${t}.${raw}`)}`,
    },
    body: raw,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('firehose receiver', () => {
  let g: GatewayTestEnv;
  beforeAll(async () => {
    g = await startGatewayTestEnv();
  });
  afterAll(async () => {
    await g?.close();
  });

  test("a child's event reaches the CRM once, attributed, through a CRM 500, a double delivery and a secret rotation; forgeries are refused", async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-fire');
      const { customer, ...rest } = acmeCoffee(externalId);
      const firehoseUrl = `${g.url}/layers/webhooks`;
      const onboarded = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
        body: {
          ...rest,
          customer: { name: customer.name },
          firehose: { url: firehoseUrl, events: ['post.published', 'content.generated'] },
        },
        key: `won-${externalId}`,
        prefer: 'wait=60',
      });
      expect(onboarded.json).toMatchObject({ outcome: { state: 'active' } });
      const orgId = (onboarded.json.outcome as { result: { orgId: string } }).result.orgId;
      // Attribution reads visibility, which follows the workflow by a moment.
      await eventually(async () => {
        const list = await g.call('GET', '/v1/customers?state=active&limit=100');
        return (list.json.items as Array<{ externalId: string; orgId?: string }>).some(
          (i) => i.externalId === externalId && i.orgId === orgId,
        );
      });

      // 1. The CRM first answers 500: the gateway answers 502, Layers retries, the CRM gets it.
      g.crm.failNext(1);
      const first = await emit(g, orgId, { postId: 'post_1' });
      const accepted = await eventually(async () => g.crm.accepted().find((d) => d.body.id === first));
      expect(accepted.body).toMatchObject({
        id: first,
        type: 'post.published',
        externalId,
        organizationId: orgId,
        data: { postId: 'post_1' },
      });
      const attempts = g.crm.deliveries.filter((d) => d.body.id === first);
      expect(attempts.map((d) => d.status)).toEqual([500, 200]);
      expect(attempts.every((d) => d.signatureValid && d.headers['idempotency-key'] === first)).toBe(true);
      const state = await g.env.control.state();
      expect(
        state.webhookDeliveries.filter((d) => d.eventId === first).map((d) => [d.status, d.attempts]),
      ).toEqual([['delivered', 2]]);

      // 2. Rotation: a second firehose endpoint with its own secret in the sink. Each event now arrives
      //    twice (once per endpoint, same event id) and reaches the CRM once.
      const firstEndpoint = state.webhookEndpoints.find((e) => e.url === firehoseUrl);
      const second = await g.env.layers.createWebhookEndpoint({
        url: firehoseUrl,
        events: ['post.published'],
        scope: 'all_children',
        description: 'rotated',
      });
      await new FileSecretSink(g.env.secretsDir).store({
        kind: 'webhook-signing-secret',
        id: second.id,
        secret: second.signingSecret,
      });
      const twice = await emit(g, orgId, { postId: 'post_2' });
      await eventually(async () => {
        const s = await g.env.control.state();
        const deliveries = s.webhookDeliveries.filter((d) => d.eventId === twice);
        return deliveries.length === 2 && deliveries.every((d) => d.status === 'delivered');
      });
      expect(g.crm.deliveries.filter((d) => d.body.id === twice)).toHaveLength(1);

      //    …then the old endpoint goes away and deliveries keep flowing on the new secret.
      await g.env.layers.deleteWebhookEndpoint(firstEndpoint.id);
      const third = await emit(g, orgId, { postId: 'post_3' });
      await eventually(async () => g.crm.accepted().find((d) => d.body.id === third));
      expect(g.crm.deliveries.filter((d) => d.body.id === third)).toHaveLength(1);

      // 3. Forged, stale and unknown-org deliveries.
      const event = {
        id: 'evt_forged_1',
        type: 'post.published',
        createdAt: new Date().toISOString(),
        data: { organizationId: orgId },
      };
      expect((await deliver(g, event, 'whsec_not_the_real_secret')).status).toBe(401);
      const [realSecret] = sinkSecrets(g.env.secretsDir);
      expect((await deliver(g, event, realSecret!, Math.floor(Date.now() / 1000) - 10 * 60)).status).toBe(
        401,
      );
      const unknownOrg = await deliver(
        g,
        {
          ...event,
          id: 'evt_unknown_org',
          data: { organizationId: 'org_00000000-0000-0000-0000-000000000000' },
        },
        second.signingSecret,
      );
      expect(unknownOrg).toMatchObject({
        status: 200,
        json: { forwarded: false, reason: 'unknown organization' },
      });
      expect(
        g.crm.deliveries.filter((d) => d.body.id === 'evt_forged_1' || d.body.id === 'evt_unknown_org'),
      ).toHaveLength(0);
      expect(g.crm.accepted().filter((d) => [first, twice, third].includes(String(d.body.id)))).toHaveLength(
        3,
      );
    });
  });
});
