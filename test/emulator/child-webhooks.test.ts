/**
 * Child-scoped webhook endpoints: the parent key with `X-Layers-Organization: <child>` manages the
 * child's own endpoints (002: "every existing endpoint works unchanged" inside a child), which hear
 * only that child; the parent's `all_children` endpoint hears every child. Archiving a child disables
 * its own endpoints (emulator decision, README).
 */
import {
  FIREHOSE,
  expectError,
  startReceiver,
  useEmulator,
  waitFor,
  type Body,
  type Receiver,
} from './helpers';

const h = useEmulator({ webhookRetryBaseMs: 5 });
let rcv: Receiver;
beforeEach(async () => {
  rcv = await startReceiver();
});
afterEach(async () => {
  await rcv.close();
});

const inChild = (childId: string) => ({ headers: { 'x-layers-organization': childId } });
const ownEndpoint = (suffix: string) => ({
  url: `${rcv.url}/${suffix}`,
  events: ['content.generated', 'test.ping'],
});

async function generate(orgId: string, credits = 10): Promise<void> {
  await h.allocate(orgId, credits);
  await h.usage(orgId, 'reserve', credits);
  expect((await h.usage(orgId, 'settle', credits)).status).toBe(200);
}

/** Once every delivery has settled: the organizations each endpoint received events of. */
async function receivedBy(endpointIds: string[], total: number): Promise<Record<string, string[]>> {
  const items: Body[] = await waitFor(
    async () => {
      const r = await h.control('GET', '/_emulator/deliveries');
      const done = r.body.items.filter((a: Body) => a.outcome === 'delivered');
      return done.length === total ? done : undefined;
    },
    5000,
    `${total} deliveries`,
  );
  return Object.fromEntries(
    endpointIds.map((id) => [
      id,
      items
        .filter((a) => a.endpointId === id)
        .map((a) => a.organizationId)
        .sort(),
    ]),
  );
}

test('the parent creates, lists and deletes a child’s own endpoint through X-Layers-Organization', async () => {
  const child = await h.createChild();
  const created = await h.post('/v1/webhook-endpoints', ownEndpoint('child'), inChild(child.id));
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    organizationId: child.id,
    scope: 'own',
    url: `${rcv.url}/child`,
    signingSecret: expect.stringMatching(/^whsec_/),
  });
  const id = created.body.id;

  expect((await h.get('/v1/webhook-endpoints', inChild(child.id))).body).toEqual({
    items: [expect.objectContaining({ id, organizationId: child.id, status: 'enabled' })],
    nextCursor: null,
  });
  expect((await h.get('/v1/webhook-endpoints')).body.items).toEqual([]); // the parent's own list
  const childKey = await h.mintKey(child.id);
  expect(
    (await h.get('/v1/webhook-endpoints', { key: childKey.secret })).body.items.map((e: Body) => e.id),
  ).toEqual([id]);

  // Another org's endpoint is 404, with the very body an unknown id gets: no existence leak.
  const other = await h.createChild({ name: 'other' });
  const unknown = await h.del(
    '/v1/webhook-endpoints/whe_00000000-0000-4000-8000-000000000000',
    inChild(child.id),
  );
  expectError(unknown, 404, 'NOT_FOUND');
  for (const r of [
    await h.del(`/v1/webhook-endpoints/${id}`),
    await h.del(`/v1/webhook-endpoints/${id}`, inChild(other.id)),
  ]) {
    expectError(r, 404, 'NOT_FOUND');
    expect({ ...r.body.error, requestId: null }).toEqual({ ...unknown.body.error, requestId: null });
  }

  expect((await h.del(`/v1/webhook-endpoints/${id}`, inChild(child.id))).body).toEqual({ id, deleted: true });
  expect((await h.get('/v1/webhook-endpoints', inChild(child.id))).body.items).toEqual([]);
});

test('a child’s own endpoint hears only that child; the parent’s all_children endpoint hears every child', async () => {
  const a = await h.createChild({ name: 'a' });
  const b = await h.createChild({ name: 'b' });
  const epA = (await h.post('/v1/webhook-endpoints', ownEndpoint('a'), inChild(a.id))).body.id;
  const epB = (await h.post('/v1/webhook-endpoints', ownEndpoint('b'), inChild(b.id))).body.id;
  const fire = (await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: `${rcv.url}/fire` })).body.id;
  await generate(a.id);
  await generate(b.id);
  expect(await receivedBy([epA, epB, fire], 4)).toEqual({
    [epA]: [a.id],
    [epB]: [b.id],
    [fire]: [a.id, b.id].sort(),
  });
  const byOrg = (org: string) => rcv.received.filter((r) => r.json.data.organizationId === org).length;
  expect({ a: byOrg(a.id), b: byOrg(b.id) }).toEqual({ a: 2, b: 2 });
});

test('through the header: all_children is 422, a child that is not yours is 404, an archived child is 409', async () => {
  const child = await h.createChild();
  expectError(
    await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: rcv.url }, inChild(child.id)),
    422,
    'VALIDATION',
    {
      field: 'scope',
      reason: 'child_has_no_children',
    },
  );
  const partner = await h.control('POST', '/_emulator/parents', {});
  const theirs = await h.post('/v1/organizations', { name: 'theirs' }, { key: partner.body.key });
  expectError(
    await h.post('/v1/webhook-endpoints', ownEndpoint('x'), inChild(theirs.body.id)),
    404,
    'NOT_FOUND',
  );
  expectError(await h.get('/v1/webhook-endpoints', inChild(theirs.body.id)), 404, 'NOT_FOUND');
  await h.del(`/v1/organizations/${child.id}`);
  expectError(await h.post('/v1/webhook-endpoints', ownEndpoint('x'), inChild(child.id)), 409, 'CONFLICT', {
    reason: 'archived',
  });
  expect((await h.state()).webhookEndpoints).toEqual([]);
});

test('archiving a child disables its own endpoints; the firehose still hears the archived child’s last events', async () => {
  const child = await h.createChild();
  await h.allocate(child.id, 100);
  await h.usage(child.id, 'reserve', 10); // work in flight across the archive
  const own = (await h.post('/v1/webhook-endpoints', ownEndpoint('own'), inChild(child.id))).body.id;
  const fire = (await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url: `${rcv.url}/fire` })).body.id;
  expect((await h.del(`/v1/organizations/${child.id}`)).body.status).toBe('archived');

  const listed = await h.get('/v1/webhook-endpoints', inChild(child.id));
  expect(listed.body.items).toEqual([expect.objectContaining({ id: own, status: 'disabled' })]);
  expect((await h.state()).webhookEndpoints.find((e: Body) => e.id === own).status).toBe('disabled');

  const settled = await h.usage(child.id, 'settle', 10);
  expect(settled.body.webhookEventId).toMatch(/^evt_/);
  const emitted = await h.control('POST', '/_emulator/webhooks/emit', {
    organizationId: child.id,
    type: 'test.ping',
  });
  expect(emitted.body.deliveries).toBe(0); // test.ping: only the disabled own endpoint subscribed to it
  expect(await receivedBy([own, fire], 1)).toEqual({ [own]: [], [fire]: [child.id] });

  // A disabled endpoint can still be deleted.
  expect((await h.del(`/v1/webhook-endpoints/${own}`, inChild(child.id))).body).toEqual({
    id: own,
    deleted: true,
  });
});
