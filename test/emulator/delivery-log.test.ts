/**
 * The delivery log tests assert on (GET /_emulator/deliveries and `attemptLog` in the state) and
 * signing-secret rotation (POST /_emulator/webhook-endpoints/:id/rotate-secret: both secrets sign
 * during the grace — CONTRACT.md: receivers accept any of several `v1=` entries).
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../emulator';
import {
  FIREHOSE,
  ISO_TS,
  expectError,
  startReceiver,
  useEmulator,
  waitFor,
  type Body,
  type Receiver,
} from './helpers';

const h = useEmulator({ webhookRetryBaseMs: 5, webhookMaxAttempts: 3 });
let rcv: Receiver;
beforeEach(async () => {
  rcv = await startReceiver();
});
afterEach(async () => {
  await rcv.close();
});

const DAY = 24 * 60 * 60 * 1000;

async function endpoint(url = rcv.url): Promise<{ id: string; signingSecret: string }> {
  const r = await h.post('/v1/webhook-endpoints', { ...FIREHOSE, url, events: ['test.ping'] });
  expect(r.status).toBe(201);
  return r.body;
}

async function ping(orgId: string): Promise<string> {
  const r = await h.control('POST', '/_emulator/webhooks/emit', {
    organizationId: orgId,
    type: 'test.ping',
    data: { n: 1 },
  });
  expect(r.body.deliveries).toBe(1);
  return r.body.eventId;
}

/** The attempts of one event, once its delivery has settled. */
const settledAttempts = (eventId: string) =>
  waitFor(
    async () => {
      const r = await h.control('GET', `/_emulator/deliveries?eventId=${eventId}`);
      const rows: Body[] = r.body.items;
      return rows.length > 0 && rows.every((a) => a.deliveryStatus !== 'pending') ? rows : undefined;
    },
    5000,
    `the delivery of ${eventId}`,
  );

/** Which of the `v1=` entries of an X-Layers-Signature header (by position) verify with `secret`. */
function verifying(secret: string, header: string, body: string): number[] {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = parts.find(([k]) => k === 't')?.[1];
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const v1 = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  return v1.flatMap((v, i) => (v === expected ? [i] : []));
}
const v1Count = (header: string): number => header.split(',').filter((p) => p.startsWith('v1=')).length;

describe('GET /_emulator/deliveries', () => {
  test('one row per attempt: endpoint, url, event, type, data.organizationId, HTTP status, outcome, attempt number', async () => {
    rcv.script = [500];
    const ep = await endpoint();
    const child = await h.createChild();
    const eventId = await ping(child.id);
    const rows = await settledAttempts(eventId);
    const common = {
      deliveryId: expect.stringMatching(/^whd_/),
      endpointId: ep.id,
      url: rcv.url,
      eventId,
      type: 'test.ping',
      organizationId: child.id,
      attemptedAt: expect.stringMatching(ISO_TS),
      deliveryStatus: 'delivered',
    };
    expect(rows).toEqual([
      { ...common, attempt: 1, httpStatus: 500, error: null, outcome: 'retry' },
      { ...common, attempt: 2, httpStatus: 200, error: null, outcome: 'delivered' },
    ]);
    expect(rows[0].deliveryId).toBe(rows[1].deliveryId);
    expect(rcv.received.map((r) => r.headers['x-layers-delivery-attempt'])).toEqual(['1', '2']);

    // the same log, per delivery, in the state
    const [d] = (await h.state()).webhookDeliveries;
    expect(d).toMatchObject({ url: rcv.url, attempts: 2, status: 'delivered' });
    expect(d.attemptLog).toEqual([
      { attempt: 1, attemptedAt: rows[0].attemptedAt, httpStatus: 500, error: null, outcome: 'retry' },
      { attempt: 2, attemptedAt: rows[1].attemptedAt, httpStatus: 200, error: null, outcome: 'delivered' },
    ]);
  });

  test('a delivery that never succeeds logs every attempt and why', async () => {
    const url = rcv.url;
    await rcv.close(); // nothing listens: network errors, retried, then failed
    await endpoint(url);
    const eventId = await ping(h.parentId);
    const rows = await settledAttempts(eventId);
    expect(rows.map((a) => [a.attempt, a.httpStatus, a.outcome, a.deliveryStatus])).toEqual([
      [1, null, 'retry', 'failed'],
      [2, null, 'retry', 'failed'],
      [3, null, 'failed', 'failed'],
    ]);
    for (const a of rows) expect(a.error).toEqual(expect.any(String));
    rcv = await startReceiver(); // for afterEach
  });

  test('a 4xx is not retried: one attempt, failed', async () => {
    rcv.script = [410];
    await endpoint();
    const rows = await settledAttempts(await ping(h.parentId));
    expect(rows).toEqual([
      expect.objectContaining({ attempt: 1, httpStatus: 410, outcome: 'failed', deliveryStatus: 'failed' }),
    ]);
  });

  test('filters by endpointId, organizationId (the event’s org), eventId and type; anything else is 422', async () => {
    const ep = await endpoint();
    const a = await h.createChild({ name: 'a' });
    const b = await h.createChild({ name: 'b' });
    await settledAttempts(await ping(a.id));
    await settledAttempts(await ping(b.id));
    const rows = async (q: string): Promise<Body[]> =>
      (await h.control('GET', `/_emulator/deliveries${q}`)).body.items;
    expect(await rows('')).toHaveLength(2);
    expect((await rows(`?organizationId=${a.id}`)).map((r) => r.organizationId)).toEqual([a.id]);
    expect(await rows(`?endpointId=${ep.id}&organizationId=${b.id}`)).toHaveLength(1);
    expect(await rows('?endpointId=whe_00000000-0000-4000-8000-000000000000')).toEqual([]);
    expect(await rows('?type=post.published')).toEqual([]);
    expectError(await h.control('GET', `/_emulator/deliveries?orgId=${a.id}`), 422, 'VALIDATION', {
      field: 'orgId',
    });
    expectError(await h.control('GET', '/_emulator/deliveries?endpointId=nope'), 422, 'VALIDATION', {
      field: 'endpointId',
    });
    expectError(await h.control('GET', '/_emulator/deliveries?type=bogus'), 422, 'VALIDATION', {
      field: 'type',
    });
  });
});

describe('POST /_emulator/webhook-endpoints/:id/rotate-secret', () => {
  test('both secrets sign during the grace (two v1= entries), then only the new one', async () => {
    const ep = await endpoint();
    const before = (await h.state()).nowMs;
    const r = await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      endpointId: ep.id,
      signingSecret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{32,}$/),
      previousSecretValidUntil: expect.stringMatching(ISO_TS),
    });
    expect(r.body.signingSecret).not.toBe(ep.signingSecret);
    expect(Date.parse(r.body.previousSecretValidUntil) - before).toBeGreaterThanOrEqual(DAY); // 24 h by default

    await ping(h.parentId);
    await waitFor(async () => rcv.received.length === 1, 5000, 'the first delivery');
    const during = rcv.received[0];
    const sig = during.headers['x-layers-signature'] as string;
    expect(v1Count(sig)).toBe(2);
    expect(verifying(r.body.signingSecret, sig, during.body)).toEqual([0]); // the new secret first
    expect(verifying(ep.signingSecret, sig, during.body)).toEqual([1]);

    await h.advance(DAY);
    await ping(h.parentId);
    await waitFor(async () => rcv.received.length === 2, 5000, 'the second delivery');
    const after = rcv.received[1];
    const sig2 = after.headers['x-layers-signature'] as string;
    expect(v1Count(sig2)).toBe(1);
    expect(verifying(r.body.signingSecret, sig2, after.body)).toEqual([0]);
    expect(verifying(ep.signingSecret, sig2, after.body)).toEqual([]);

    const state = await h.state();
    expect(state.webhookEndpoints[0]).toMatchObject({
      id: ep.id,
      secretRotatedAt: expect.stringMatching(ISO_TS),
      previousSecretValidUntil: r.body.previousSecretValidUntil,
    });
    const text = JSON.stringify(state);
    expect(text).not.toContain(r.body.signingSecret);
    expect(text).not.toContain(ep.signingSecret);
  });

  test('graceMs: 0 retires the old secret at once; rotating again keeps only the last two secrets', async () => {
    const ep = await endpoint();
    const first = await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`, {
      graceMs: 0,
    });
    const second = await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`, {});
    await ping(h.parentId);
    await waitFor(async () => rcv.received.length === 1, 5000, 'a delivery');
    const got = rcv.received[0];
    const sig = got.headers['x-layers-signature'] as string;
    expect(v1Count(sig)).toBe(2);
    expect(verifying(second.body.signingSecret, sig, got.body)).toEqual([0]);
    expect(verifying(first.body.signingSecret, sig, got.body)).toEqual([1]);
    expect(verifying(ep.signingSecret, sig, got.body)).toEqual([]);
  });

  test('unknown endpoint 404, deleted endpoint 409, bad graceMs 422', async () => {
    expectError(
      await h.control(
        'POST',
        '/_emulator/webhook-endpoints/whe_00000000-0000-4000-8000-000000000000/rotate-secret',
      ),
      404,
      'NOT_FOUND',
    );
    expectError(
      await h.control('POST', '/_emulator/webhook-endpoints/nope/rotate-secret'),
      422,
      'VALIDATION',
      { field: 'endpointId' },
    );
    const ep = await endpoint();
    expectError(
      await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`, { graceMs: -1 }),
      422,
      'VALIDATION',
      { field: 'graceMs' },
    );
    expectError(
      await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`, { grace: 1 }),
      422,
      'VALIDATION',
      { field: 'grace' },
    );
    await h.del(`/v1/webhook-endpoints/${ep.id}`);
    expectError(
      await h.control('POST', `/_emulator/webhook-endpoints/${ep.id}/rotate-secret`),
      409,
      'CONFLICT',
      { reason: 'deleted' },
    );
  });
});

test('a state file written before attempt logs and rotation loads, and both then persist', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-emu-log-'));
  try {
    const a = await startEmulator({ port: 0, quiet: true, dataDir: dir, webhookRetryBaseMs: 5 });
    const ep = await fetch(`${a.url}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.parentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: rcv.url, events: ['test.ping'] }),
    }).then((r) => r.json() as Promise<Body>);
    await fetch(`${a.url}/_emulator/webhooks/emit`, {
      method: 'POST',
      body: JSON.stringify({ type: 'test.ping' }),
    });
    await waitFor(async () => rcv.received.length === 1, 5000, 'the delivery');
    await a.close();
    // Strip what earlier versions did not write.
    const file = path.join(dir, 'emulator-state.json');
    const old = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const e of old.endpoints) delete e.rotation;
    for (const d of old.deliveries) {
      delete d.url;
      delete d.attemptLog;
    }
    fs.writeFileSync(file, JSON.stringify(old), { mode: 0o600 });

    const b = await startEmulator({ port: 0, quiet: true, dataDir: dir });
    try {
      const state = (await fetch(`${b.url}/_emulator/state`).then((r) => r.json())) as Body;
      expect(state.webhookDeliveries[0]).toMatchObject({ url: rcv.url, attemptLog: [], status: 'delivered' });
      expect(state.webhookEndpoints[0]).toMatchObject({
        secretRotatedAt: null,
        previousSecretValidUntil: null,
      });
      const rotated = await fetch(`${b.url}/_emulator/webhook-endpoints/${ep.id}/rotate-secret`, {
        method: 'POST',
      });
      expect(rotated.status).toBe(200);
    } finally {
      await b.close();
    }
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(saved.endpoints[0].rotation).toMatchObject({ previousSigningSecret: ep.signingSecret });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
