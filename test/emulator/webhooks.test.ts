/**
 * Webhook endpoints and signed deliveries (000 step 5, 002 firehose, CONTRACT.md "Webhooks").
 */
import { createHmac } from 'node:crypto';
import {
  FIREHOSE,
  expectError,
  startReceiver,
  useEmulator,
  waitFor,
  type Body,
  type Receiver,
} from './helpers';

const h = useEmulator({ webhookRetryBaseMs: 5, webhookMaxAttempts: 4 });
let rcv: Receiver;
beforeEach(async () => {
  rcv = await startReceiver();
});
afterEach(async () => {
  await rcv.close();
});

function verify(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
  return parts.v1 === expected && Math.abs(Date.now() / 1000 - Number(parts.t)) < 300;
}

async function generate(orgId: string, credits = 10): Promise<void> {
  await h.allocate(orgId, credits);
  await h.usage(orgId, 'reserve', credits);
  expect((await h.usage(orgId, 'settle', credits)).status).toBe(200);
}

const deliveries = async (): Promise<Body[]> => (await h.state()).webhookDeliveries;
const settledDeliveries = (n: number) => async (): Promise<Body[] | false> => {
  const ds = await deliveries();
  return ds.length >= n && ds.every((d) => d.status !== 'pending') ? ds : false;
};

describe('POST /v1/webhook-endpoints', () => {
  test('creates the documented firehose endpoint and shows the signing secret once', async () => {
    const r = await h.post('/v1/webhook-endpoints', FIREHOSE);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^whe_[0-9a-f-]{36}$/),
      organizationId: h.parentId,
      url: FIREHOSE.url,
      events: FIREHOSE.events,
      scope: 'all_children',
      signingSecret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{32,}$/),
    });
    const list = await h.get('/v1/webhook-endpoints');
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].id).toBe(r.body.id);
    expect(list.body.items[0].signingSecret).toBeUndefined();
    expect(list.body.nextCursor).toBeNull();
    expect(JSON.stringify(await h.state())).not.toContain(r.body.signingSecret);
  });

  test('scope defaults to own', async () => {
    const r = await h.post('/v1/webhook-endpoints', { url: rcv.url, events: ['test.ping'] });
    expect(r.body.scope).toBe('own');
  });

  test('validation: https (http only for loopback), 1–50 known events, scope own|all_children', async () => {
    const bad: Array<[Body, string]> = [
      [{ ...FIREHOSE, url: 'http://quinns-crm.example.com/hooks' }, 'url'],
      [{ ...FIREHOSE, url: 'not a url' }, 'url'],
      [{ ...FIREHOSE, url: undefined }, 'url'],
      [{ ...FIREHOSE, events: [] }, 'events'],
      [{ ...FIREHOSE, events: ['content.deleted'] }, 'events'],
      [{ ...FIREHOSE, events: ['test.ping', 'test.ping'] }, 'events'],
      [{ ...FIREHOSE, events: Array.from({ length: 51 }, () => 'test.ping') }, 'events'],
      [{ ...FIREHOSE, scope: 'everyone' }, 'scope'],
    ];
    for (const [body, field] of bad)
      expectError(await h.post('/v1/webhook-endpoints', body), 422, 'VALIDATION', { field });
    expect((await h.state()).webhookEndpoints).toHaveLength(0);
    expect(
      (await h.post('/v1/webhook-endpoints', { url: 'http://localhost:9/h', events: ['test.ping'] })).status,
    ).toBe(201);
  });

  test('a child key may subscribe its own events but not all_children (403)', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    expectError(await h.post('/v1/webhook-endpoints', FIREHOSE, { key: k.secret }), 403, 'FORBIDDEN_SCOPE');
    const own = await h.post(
      '/v1/webhook-endpoints',
      { url: rcv.url, events: ['content.generated'] },
      { key: k.secret },
    );
    expect(own.status).toBe(201);
    expect(own.body.organizationId).toBe(child.id);
  });

  test('DELETE removes the endpoint (idempotent; 404 for someone else’s endpoint)', async () => {
    const child = await h.createChild();
    const k = await h.mintKey(child.id);
    const ep = await h.post('/v1/webhook-endpoints', { url: rcv.url, events: ['test.ping'] });
    expectError(await h.del(`/v1/webhook-endpoints/${ep.body.id}`, { key: k.secret }), 404, 'NOT_FOUND');
    const d = await h.del(`/v1/webhook-endpoints/${ep.body.id}`);
    expect(d.body).toEqual({ id: ep.body.id, deleted: true });
    expect((await h.del(`/v1/webhook-endpoints/${ep.body.id}`)).status).toBe(200);
    expect((await h.get('/v1/webhook-endpoints')).body.items).toHaveLength(0);
    expectError(await h.del('/v1/webhook-endpoints/whe_unknown'), 404, 'NOT_FOUND');
  });
});

describe('deliveries', () => {
  test('content.generated reaches the firehose, signed, with data.organizationId', async () => {
    const ep = await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url });
    const child = await h.createChild();
    await generate(child.id);
    await waitFor(async () => rcv.received.length === 1, 5000, 'a delivery');
    const got = rcv.received[0];
    expect(got.json).toMatchObject({
      id: expect.stringMatching(/^evt_[0-9A-Z]{26}$/),
      type: 'content.generated',
      createdAt: expect.any(String),
      data: { organizationId: child.id, credits: 10 },
    });
    expect(got.headers['x-layers-event-id']).toBe(got.json.id);
    expect(got.headers['content-type']).toBe('application/json');
    expect(verify(ep.body.signingSecret, got.headers['x-layers-signature'] as string, got.body)).toBe(true);
    expect(verify('whsec_wrong', got.headers['x-layers-signature'] as string, got.body)).toBe(false);
    const [d] = await waitFor(settledDeliveries(1));
    expect(d).toMatchObject({
      endpointId: ep.body.id,
      eventId: got.json.id,
      type: 'content.generated',
      organizationId: child.id,
      attempts: 1,
      status: 'delivered',
      lastStatus: 200,
    });
  });

  test('5xx, 429 and network errors are retried with backoff; the event id is stable across retries', async () => {
    rcv.script = [500, 429, 503];
    await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url });
    const child = await h.createChild();
    await generate(child.id);
    const [d] = await waitFor(settledDeliveries(1));
    expect(d).toMatchObject({ status: 'delivered', attempts: 4, lastStatus: 200 });
    expect(rcv.received).toHaveLength(4);
    expect(new Set(rcv.received.map((r) => r.headers['x-layers-event-id'])).size).toBe(1);
    expect(new Set(rcv.received.map((r) => r.body)).size).toBe(1);
    // exponential backoff: each gap at least base · 2^(n-1)
    const gaps = rcv.received.slice(1).map((r, i) => r.at - rcv.received[i].at);
    expect(gaps[2]).toBeGreaterThanOrEqual(15);
  });

  test('attempts are bounded: a receiver failing forever ends as failed', async () => {
    rcv.script = [500, 500, 500, 500, 500, 500];
    await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url });
    const child = await h.createChild();
    await generate(child.id);
    const [d] = await waitFor(settledDeliveries(1));
    expect(d).toMatchObject({ status: 'failed', attempts: 4, lastStatus: 500 });
  });

  test('other 4xx are not retried', async () => {
    rcv.script = [400];
    await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url });
    const child = await h.createChild();
    await generate(child.id);
    const [d] = await waitFor(settledDeliveries(1));
    expect(d).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 400 });
    expect(rcv.received).toHaveLength(1);
  });

  test('a network error (nothing listening) is retried, then failed', async () => {
    const url = rcv.url;
    await rcv.close();
    await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url });
    const child = await h.createChild();
    await generate(child.id);
    const [d] = await waitFor(settledDeliveries(1));
    expect(d).toMatchObject({ status: 'failed', attempts: 4, lastStatus: null });
    expect(d.lastError).toEqual(expect.any(String));
    rcv = await startReceiver(); // for afterEach
  });

  test('own endpoints receive the owner’s own events only; all_children receives every child', async () => {
    const a = await h.createChild({ name: 'a' });
    const b = await h.createChild({ name: 'b' });
    const ka = await h.mintKey(a.id);
    const own = await h.post(
      '/v1/webhook-endpoints',
      { url: `${rcv.url}/a`, events: ['content.generated'] },
      { key: ka.secret },
    );
    const fire = await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: `${rcv.url}/fire` });
    const parentOwn = await h.post('/v1/webhook-endpoints', {
      url: `${rcv.url}/parent`,
      events: ['content.generated'],
      scope: 'own',
    });
    await generate(a.id);
    await generate(b.id);
    const ds = await waitFor(settledDeliveries(3));
    const byEndpoint = (id: string): string[] =>
      ds
        .filter((d) => d.endpointId === id)
        .map((d) => d.organizationId)
        .sort();
    expect(byEndpoint(own.body.id)).toEqual([a.id]);
    expect(byEndpoint(fire.body.id)).toEqual([a.id, b.id].sort());
    expect(byEndpoint(parentOwn.body.id)).toEqual([]);
  });

  test('endpoints only get the event types they subscribed to; deleted endpoints get nothing', async () => {
    const ping = await h.post('/v1/webhook-endpoints', {
      url: rcv.url,
      events: ['test.ping'],
      scope: 'all_children',
    });
    const gone = await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url });
    await h.del(`/v1/webhook-endpoints/${gone.body.id}`);
    const child = await h.createChild();
    await generate(child.id);
    expect(
      (await deliveries()).filter((d) => d.endpointId === ping.body.id || d.endpointId === gone.body.id),
    ).toHaveLength(0);
    const emitted = await h.control('POST', '/_emulator/webhooks/emit', {
      organizationId: child.id,
      type: 'test.ping',
      data: { hello: 'world' },
    });
    expect(emitted.body.deliveries).toBe(1);
    await waitFor(async () => rcv.received.length === 1);
    expect(rcv.received[0].json).toMatchObject({
      type: 'test.ping',
      data: { organizationId: child.id, hello: 'world' },
    });
  });
});
