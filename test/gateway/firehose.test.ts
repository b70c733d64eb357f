import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FileSecretSink } from '../../activities/secret-sink';
import { hmacHex } from '../../gateway/signature';
import { acmeCoffee, uniqueExternalId } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { startGatewayTestEnv, type GatewayTestEnv } from './helpers';

// The partner firehose: emulator → gateway /layers/webhooks → attributed → test CRM receiver. The firehose
// is worker configuration (LAYERS_FIREHOSE_URL = <gateway>/layers/webhooks), made by the first onboarding.

const FIREHOSE_EVENTS = ['post.published', 'content.generated'];
const CUSTOMER_URL = 'https://hooks.customer-b.example/layers';
const DAY_MS = 24 * 60 * 60 * 1000;

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

/** The secret the sink holds for `kind` and endpoint `id` (what the worker stored; never in history). */
function sinkSecret(dir: string, kind: 'firehose-signing-secret' | 'webhook-signing-secret', id: string) {
  const file = path.join(dir, `${kind}-${id}.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { secret: string }).secret;
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

/** Onboards through the gateway as a CRM would; answers the org id once attribution can see it. */
async function onboard(g: GatewayTestEnv, externalId: string, extra: Record<string, unknown> = {}) {
  const { customer, ...rest } = acmeCoffee(externalId);
  const onboarded = await g.call('POST', `/v1/customers/${externalId}/onboarding`, {
    body: { ...rest, customer: { name: customer.name }, ...extra },
    key: `won-${externalId}`,
    prefer: 'wait=60',
  });
  expect(onboarded.json).toMatchObject({ outcome: { state: 'active' } });
  const result = (onboarded.json.outcome as { result: { orgId: string; firehoseEndpointId: string } }).result;
  // Attribution reads visibility, which follows the workflow by a moment.
  await eventually(async () => {
    const list = await g.call('GET', '/v1/customers?state=active&limit=100');
    return (list.json.items as Array<{ externalId: string; orgId?: string }>).some(
      (i) => i.externalId === externalId && i.orgId === result.orgId,
    );
  });
  return result;
}

describe('firehose receiver', () => {
  let g: GatewayTestEnv;
  let firehoseUrl: string;
  beforeAll(async () => {
    g = await startGatewayTestEnv({
      firehoseEvents: FIREHOSE_EVENTS,
      // The customer's own webhook host: a public address, without asking DNS.
      deps: { resolveHost: async () => [{ address: '203.0.113.10', family: 4 }] },
    });
    firehoseUrl = `${g.url}/layers/webhooks`;
  });
  afterAll(async () => {
    await g?.close();
  });

  const partnerEndpoints = async () =>
    (await g.env.control.state()).webhookEndpoints.filter(
      (e) => e.url === firehoseUrl && e.scope === 'all_children' && e.status === 'enabled',
    );

  test("a child's event reaches the CRM once, attributed, through a CRM 500, a double delivery and a secret rotation; forgeries are refused", async () => {
    await g.env.run(async () => {
      const externalId = uniqueExternalId('gw-fire');
      const { orgId, firehoseEndpointId } = await onboard(g, externalId);
      // The worker made the partner endpoint at the gateway, on the parent, and stored its secret.
      const [partner, ...others] = await partnerEndpoints();
      expect(others).toEqual([]);
      expect(partner).toMatchObject({ id: firehoseEndpointId, events: [...FIREHOSE_EVENTS].sort() });
      const partnerSecret = sinkSecret(g.env.secretsDir, 'firehose-signing-secret', partner.id);

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
      let state = await g.env.control.state();
      expect(
        state.webhookDeliveries.filter((d) => d.eventId === first).map((d) => [d.status, d.attempts]),
      ).toEqual([['delivered', 2]]);

      // 2. Delivered twice. When LAYERS_FIREHOSE_EVENTS changes, ensurePartnerFirehose creates the new
      //    endpoint (secret stored as firehose-signing-secret) before it deletes the old one: in between,
      //    every event arrives through both, same event id. It reaches the CRM once.
      const next = await g.env.layers.createWebhookEndpoint({
        url: firehoseUrl,
        events: ['post.published'],
        scope: 'all_children',
        description: 'Partner firehose (LAYERS_FIREHOSE_URL), new events',
      });
      await new FileSecretSink(g.env.secretsDir).store({
        kind: 'firehose-signing-secret',
        id: next.id,
        secret: next.signingSecret,
      });
      const twice = await emit(g, orgId, { postId: 'post_2' });
      await eventually(async () => {
        const s = await g.env.control.state();
        const deliveries = s.webhookDeliveries.filter((d) => d.eventId === twice);
        return deliveries.length === 2 && deliveries.every((d) => d.status === 'delivered');
      });
      expect(g.crm.deliveries.filter((d) => d.body.id === twice)).toHaveLength(1);
      //    A redelivery of the very same event (signed anew) is answered from memory, not forwarded again.
      state = await g.env.control.state();
      const payload = state.webhookDeliveries.find((d) => d.eventId === twice).payload as object;
      expect(await deliver(g, payload, partnerSecret)).toMatchObject({
        status: 200,
        json: { forwarded: true, externalId, duplicate: true },
      });
      expect(g.crm.deliveries.filter((d) => d.body.id === twice)).toHaveLength(1);
      await g.env.layers.deleteWebhookEndpoint(next.id);

      // 3. Secret rotation of the partner endpoint ([emulator decision] control route: Layers documents
      //    none, so no worker path exists). During the grace every delivery is signed with the new and
      //    the previous secret: the gateway, still holding only the previous one, keeps accepting.
      const rotateRes = await fetch(
        `${g.env.emulator.url}/_emulator/webhook-endpoints/${partner.id}/rotate-secret`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      );
      expect(rotateRes.status).toBe(200);
      const rotated = (await rotateRes.json()) as { signingSecret: string };
      expect(rotated.signingSecret).not.toBe(partnerSecret);
      const inGrace = await emit(g, orgId, { postId: 'post_3' });
      await eventually(async () => g.crm.accepted().find((d) => d.body.id === inGrace));
      //    The new secret goes to the sink as the worker stores a shown-once firehose secret (kind
      //    firehose-signing-secret, id = endpoint: it replaces the previous one there). After the grace
      //    (emulator clock) deliveries carry the new signature only, and the gateway re-reads the sink
      //    on the first one that matches nothing it holds.
      await new FileSecretSink(g.env.secretsDir).store({
        kind: 'firehose-signing-secret',
        id: partner.id,
        secret: rotated.signingSecret,
      });
      await g.env.control.advanceClock(DAY_MS + 60_000);
      const afterGrace = await emit(g, orgId, { postId: 'post_4' });
      await eventually(async () => g.crm.accepted().find((d) => d.body.id === afterGrace));
      state = await g.env.control.state();
      // Accepted at the first attempt (Layers does not retry a 401): no delivery was refused.
      expect(
        state.webhookDeliveries
          .filter((d) => [inGrace, afterGrace].includes(d.eventId))
          .map((d) => [d.status, d.attempts]),
      ).toEqual([
        ['delivered', 1],
        ['delivered', 1],
      ]);

      // 4. Forged, stale, retired and unknown-org deliveries.
      const event = {
        id: 'evt_forged_1',
        type: 'post.published',
        createdAt: new Date().toISOString(),
        data: { organizationId: orgId },
      };
      expect((await deliver(g, event, 'whsec_not_the_real_secret')).status).toBe(401);
      expect(
        (await deliver(g, event, rotated.signingSecret, Math.floor(Date.now() / 1000) - 10 * 60)).status,
      ).toBe(401);
      expect((await deliver(g, event, partnerSecret)).status).toBe(401); // rotated out
      const unknownOrg = await deliver(
        g,
        {
          ...event,
          id: 'evt_unknown_org',
          data: { organizationId: 'org_00000000-0000-0000-0000-000000000000' },
        },
        rotated.signingSecret,
      );
      expect(unknownOrg).toMatchObject({
        status: 200,
        json: { forwarded: false, reason: 'unknown organization' },
      });
      expect(
        g.crm.deliveries.filter((d) => d.body.id === 'evt_forged_1' || d.body.id === 'evt_unknown_org'),
      ).toHaveLength(0);
      const ours = [first, twice, inGrace, afterGrace];
      expect(g.crm.accepted().filter((d) => ours.includes(String(d.body.id)))).toHaveLength(4);
      expect(
        g.crm.accepted().every((d) => !ours.includes(String(d.body.id)) || d.body.externalId === externalId),
      ).toBe(true);
    });
  });

  test("a customer endpoint's signing secret cannot sign a firehose delivery (401), not even for its own org", async () => {
    await g.env.run(async () => {
      const victimId = uniqueExternalId('gw-victim');
      const holderId = uniqueExternalId('gw-holder');
      const [victim, holder] = await Promise.all([
        onboard(g, victimId),
        onboard(g, holderId, { firehose: { url: CUSTOMER_URL, events: ['post.published'] } }),
      ]);
      // The holder's own webhook: a child-scoped endpoint whose secret its receiver knows.
      const state = await g.env.control.state();
      expect(state.webhookEndpoints.find((e) => e.id === holder.firehoseEndpointId)).toMatchObject({
        url: CUSTOMER_URL,
        scope: 'own',
        organizationId: holder.orgId,
      });
      expect(readdirSync(g.env.secretsDir)).toContain(
        `webhook-signing-secret-${holder.firehoseEndpointId}.json`,
      );
      const customerSecret = sinkSecret(
        g.env.secretsDir,
        'webhook-signing-secret',
        holder.firehoseEndpointId,
      );
      const [partner] = await partnerEndpoints();
      const partnerSecret = sinkSecret(g.env.secretsDir, 'firehose-signing-secret', partner.id);

      const forged = (id: string, organizationId: string) => ({
        id,
        type: 'post.published',
        createdAt: new Date().toISOString(),
        data: { organizationId, postId: 'post_forged' },
      });
      // Forging an event for another customer's org, and for its own: both refused, nothing forwarded.
      const intoVictim = await deliver(g, forged('evt_forged_victim', victim.orgId), customerSecret);
      expect(intoVictim).toMatchObject({ status: 401, json: { status: 401 } });
      expect((await deliver(g, forged('evt_forged_own', holder.orgId), customerSecret)).status).toBe(401);
      // The same body signed with the partner firehose's secret is accepted: the secret made the difference.
      expect(await deliver(g, forged('evt_partner_signed', victim.orgId), partnerSecret)).toMatchObject({
        status: 200,
        json: { forwarded: true, externalId: victimId },
      });
      const ids = g.crm.deliveries.map((d) => d.body.id);
      expect(ids).not.toContain('evt_forged_victim');
      expect(ids).not.toContain('evt_forged_own');
      expect(ids).toContain('evt_partner_signed');
    });
  });
});
