/**
 * LayersClient against the in-process Layers emulator: the whole product surface validates against
 * the client's schemas, every error class surfaces with the right classification and Temporal
 * failure type, faults (latency → timeout, commit-then-drop → retryable network error, 429 with
 * Retry-After, 500) behave, an AbortSignal cancels, and no key material ever reaches a log line,
 * an error or a failure.
 */
import { randomUUID } from 'node:crypto';

import { startEmulator } from '../../emulator';
import {
  LayersApiError,
  LayersClient,
  LayersContractError,
  toApplicationFailure,
  type LayersCallRecord,
  type LayersClientOptions,
  type MintedApiKey,
} from '../../activities/layers';
import { capturingLogger, rejectionOf, sleep } from './helpers';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

let emu: Emulator;
const captured = capturingLogger();
const calls: LayersCallRecord[] = [];
/** Every error, and every failure it maps to, seen by any test — checked for key material at the end. */
const thrown: unknown[] = [];
/** Secrets that must never appear in what the client emitted. */
const secrets = new Set<string>();
const clients: LayersClient[] = [];

function newClient(over: Partial<LayersClientOptions> = {}): LayersClient {
  const c = new LayersClient({
    baseUrl: emu.url,
    apiKey: emu.parentKey,
    logger: captured.logger,
    onCall: (r) => calls.push(r),
    ...over,
  });
  clients.push(c);
  return c;
}

let client: LayersClient;

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${emu.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`control ${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const faults = (rules: Array<Record<string, unknown>>, seed = 1) =>
  control('POST', '/_emulator/faults', { seed, rules });

interface EmulatorState {
  transfers: Array<{ id: string; toOrganizationId: string; credits: number; trigger?: string }>;
  organizations?: unknown[];
}
const state = async (): Promise<EmulatorState> => (await control('GET', '/_emulator/state')) as EmulatorState;

/** Expect a rejection with a LayersApiError; record it (and its failure) for the redaction check. */
async function apiFailure(p: Promise<unknown>): Promise<LayersApiError> {
  const err = await rejectionOf(p);
  thrown.push(err);
  if (!(err instanceof LayersApiError)) throw new Error(`expected LayersApiError, got ${String(err)}`);
  thrown.push(toApplicationFailure(err));
  return err;
}

async function newChild(name = `Acme ${randomUUID().slice(0, 8)}`): Promise<string> {
  const org = await client.createOrganization(
    { name, metadata: { externalId: name } },
    { idempotencyKey: randomUUID() },
  );
  return org.id;
}

async function fund(orgId: string, credits: number): Promise<void> {
  await client.allocateCredits(orgId, { credits }, { idempotencyKey: randomUUID() });
}

beforeAll(async () => {
  emu = await startEmulator({ port: 0, quiet: true, parentCredits: 1_000_000, tier: 'partner' });
  secrets.add(emu.parentKey);
  client = newClient();
});

afterEach(async () => {
  await control('DELETE', '/_emulator/faults');
  await control('POST', '/_emulator/kill-switch', { on: false });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await emu?.close();
});

describe('the product surface validates against the emulator', () => {
  it('whoami', async () => {
    const me = await client.whoami();
    expect(me.organizationId).toBe(emu.parentOrganizationId);
    expect(me.scopes).toContain('org:admin');
    expect(me.killSwitch).toBe(false);
  });

  it('organization lifecycle: create, list, get, metadata, suspend, resume, archive', async () => {
    const created = await client.createOrganization(
      { name: 'Acme Coffee', metadata: { externalId: 'acme-coffee', plan: 'growth' } },
      { idempotencyKey: randomUUID() },
    );
    expect(created).toMatchObject({
      status: 'active',
      parentOrganizationId: emu.parentOrganizationId,
      billingEmail: null,
    });

    const page = await client.listOrganizations({ status: 'active', limit: 1 });
    expect(page.items).toHaveLength(1);
    const all: string[] = [];
    for await (const o of client.listAllOrganizations({ status: 'active', limit: 1 })) all.push(o.id);
    expect(all).toContain(created.id);
    expect(new Set(all).size).toBe(all.length);

    const got = await client.getOrganization(created.id);
    expect(got.summary).toMatchObject({ projectCount: 0, balance: 0, available: 0 });
    expect(got.summary.creditConfig).toEqual({
      monthlyCreditCap: null,
      refillThreshold: null,
      refillAmount: null,
      autoRefillEnabled: false,
    });

    const patched = await client.updateOrganizationMetadata(
      created.id,
      { plan: '', tier: 'gold' },
      { idempotencyKey: randomUUID() },
    );
    expect(patched.metadata).toEqual({ externalId: 'acme-coffee', tier: 'gold' });

    expect((await client.suspendOrganization(created.id)).status).toBe('suspended');
    expect((await client.resumeOrganization(created.id)).status).toBe('active');

    await fund(created.id, 300);
    const archived = await client.archiveOrganization(created.id);
    expect(archived).toMatchObject({ id: created.id, status: 'archived', reclaimedCredits: 300 });
    expect(await client.archiveOrganization(created.id)).toMatchObject({ status: 'archived' });
  });

  it('child API keys: mint, list, rotate, revoke', async () => {
    const orgId = await newChild();
    const minted: MintedApiKey = await client.createApiKey(
      orgId,
      { name: 'acme-integration', scopes: ['content:read', 'content:write'] },
      { idempotencyKey: randomUUID() },
    );
    secrets.add(minted.secret);
    expect(minted.apiKey.organizationId).toBe(orgId);
    expect(minted.secret.startsWith(minted.apiKey.prefix)).toBe(true);

    const listed = await client.listApiKeys(orgId);
    expect(listed.items.map((k) => k.id)).toContain(minted.apiKey.id);
    expect(JSON.stringify(listed)).not.toContain(minted.secret);

    const rotated = await client.rotateApiKey(orgId, minted.apiKey.id, { idempotencyKey: randomUUID() });
    secrets.add(rotated.secret);
    expect(rotated.apiKey.id).not.toBe(minted.apiKey.id);

    const revoked = await client.revokeApiKey(orgId, rotated.apiKey.id);
    expect(revoked).toMatchObject({ deleted: true, apiKey: { id: rotated.apiKey.id, status: 'revoked' } });
  });

  it('credits: allocate (+ replay), wallet, events, credit config', async () => {
    const orgId = await newChild();
    const key = randomUUID();
    const body = { credits: 5000, description: 'Q3 budget top-up', metadata: { invoice: 'inv_2026_0142' } };
    const first = await client.allocateCredits(orgId, body, { idempotencyKey: key });
    expect(first).toMatchObject({ organizationId: orgId, allocated: 5000, balance: 5000, available: 5000 });
    expect(first.replayed ?? false).toBe(false);
    const replay = await client.allocateCredits(orgId, body, { idempotencyKey: key });
    expect(replay).toMatchObject({ id: first.id, allocated: 5000, replayed: true });

    expect(await client.getCredits(orgId)).toMatchObject({
      organizationId: orgId,
      balance: 5000,
      available: 5000,
      reservedCredits: 0,
    });

    const events = await client.listCreditEvents(orgId, { eventType: 'allocation' });
    expect(events.items).toHaveLength(1);
    expect(events.items[0]).toMatchObject({ eventType: 'allocation', credits: 5000 });
    expect(events.items[0]!.metadata).toMatchObject({ transferId: first.id });

    expect(await client.getCreditConfig(orgId)).toMatchObject({
      config: { monthlyCreditCap: null, refillThreshold: null, refillAmount: null, autoRefillEnabled: false },
    });
    const cfg = await client.updateCreditConfig(
      orgId,
      { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 },
      { idempotencyKey: randomUUID() },
    );
    expect(cfg).toMatchObject({
      organizationId: orgId,
      config: { monthlyCreditCap: 5000, autoRefillEnabled: true },
      balance: 5000,
    });
    const cleared = await client.updateCreditConfig(orgId, { refillThreshold: null, refillAmount: null });
    expect(cleared.config).toMatchObject({
      monthlyCreditCap: 5000,
      refillThreshold: null,
      autoRefillEnabled: false,
    });
  });

  it('projects inside a child via X-Layers-Organization', async () => {
    const orgId = await newChild();
    const project = await client.createProject(
      { name: 'Acme Coffee', timezone: 'America/Los_Angeles', customerExternalId: 'acme-coffee' },
      { organizationId: orgId, idempotencyKey: randomUUID() },
    );
    expect(project.organizationId).toBe(orgId);
    expect(await client.getProject(project.id, { organizationId: orgId })).toMatchObject({
      id: project.id,
      customerExternalId: 'acme-coffee',
    });
  });

  it('webhook endpoints: create (firehose), list, list all, delete', async () => {
    const created = await client.createWebhookEndpoint(
      {
        url: 'https://quinns-crm.example.com/layers/webhooks',
        events: ['content.generated', 'post.published'],
        scope: 'all_children',
      },
      { idempotencyKey: randomUUID() },
    );
    secrets.add(created.signingSecret);
    expect(created.scope).toBe('all_children');
    const page = await client.listWebhookEndpoints({ limit: 50 });
    expect(page.items.map((e) => e.id)).toContain(created.id);
    expect(JSON.stringify(page)).not.toContain('whsec_');
    const all: string[] = [];
    for await (const e of client.listAllWebhookEndpoints()) all.push(e.id);
    expect(all).toContain(created.id);
    await client.deleteWebhookEndpoint(created.id);
    const after: string[] = [];
    for await (const e of client.listAllWebhookEndpoints()) after.push(e.id);
    expect(after).not.toContain(created.id);
  });

  it('every call reported onCall with the route in pattern form', () => {
    expect(calls.length).toBeGreaterThan(20);
    for (const c of calls) {
      expect(c.route).toMatch(/^\/v1\//);
      expect(c.route).not.toMatch(/org_|key_|prj_|whe_|\?/);
      expect(c.durationMs).toBeGreaterThanOrEqual(0);
    }
    const ok = calls.filter((c) => typeof c.status === 'number' && c.status < 300);
    expect(ok.every((c) => typeof c.requestId === 'string' && c.requestId.startsWith('req_'))).toBe(true);
    expect(ok.some((c) => c.endpointClass === 'read-light')).toBe(true);
    expect(ok.some((c) => c.endpointClass === 'write-light')).toBe(true);
    const routes = new Set(calls.map((c) => `${c.method} ${c.route}`));
    for (const r of [
      'GET /v1/organizations/:orgId',
      'POST /v1/organizations/:orgId/credits/allocate',
      'POST /v1/organizations/:orgId/api-keys/:keyId/rotate',
      'DELETE /v1/webhook-endpoints/:id',
      'GET /v1/projects/:projectId',
    ]) {
      expect(routes).toContain(r);
    }
  });
});

describe('error classes', () => {
  it('400 IDEMPOTENCY_REQUIRED (allocate without a key) → non-retryable', async () => {
    const orgId = await newChild();
    const e = await apiFailure(
      client.allocateCredits(orgId, { credits: 1 }, {} as { idempotencyKey: string }),
    );
    expect(e).toMatchObject({ status: 400, code: 'IDEMPOTENCY_REQUIRED', classification: 'non_retryable' });
    expect(e.requestId).toMatch(/^req_/);
    expect(e.message).toMatch(/^Layers 400 IDEMPOTENCY_REQUIRED: .+ \(req_[0-9A-Z]+\)/);
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersNonRetryableError', nonRetryable: true });
  });

  it('401 UNAUTHENTICATED (unknown key) → non-retryable', async () => {
    const bad = 'lp_live_ZZZZZZZZZZZZZZZZ_notARealSecretButStillSecretMaterial';
    secrets.add(bad);
    const c = newClient({ apiKey: bad });
    const e = await apiFailure(c.whoami());
    expect(e).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', classification: 'non_retryable' });
    expect(toApplicationFailure(e).type).toBe('LayersNonRetryableError');
  });

  it('402 BILLING_EXHAUSTED (parent wallet short) → insufficient_funds', async () => {
    const orgId = await newChild();
    const me = await client.whoami();
    const e = await apiFailure(
      client.allocateCredits(orgId, { credits: me.creditBalance + 1 }, { idempotencyKey: randomUUID() }),
    );
    expect(e).toMatchObject({ status: 402, code: 'BILLING_EXHAUSTED', classification: 'insufficient_funds' });
    expect(toApplicationFailure(e)).toMatchObject({
      type: 'LayersInsufficientFundsError',
      nonRetryable: true,
    });
  });

  it('403 FORBIDDEN_SCOPE (delegating org:admin; a key without org:admin) → non-retryable', async () => {
    const orgId = await newChild();
    const e = await apiFailure(
      client.createApiKey(orgId, { name: 'admin', scopes: ['org:admin'] }, { idempotencyKey: randomUUID() }),
    );
    expect(e).toMatchObject({ status: 403, code: 'FORBIDDEN_SCOPE', classification: 'non_retryable' });
    expect(toApplicationFailure(e).type).toBe('LayersNonRetryableError');

    const limited = (await control('POST', '/_emulator/keys', { scopes: ['projects:read'] })) as {
      id: string;
      secret: string;
    };
    secrets.add(limited.secret);
    const c = newClient({ apiKey: limited.secret });
    const e2 = await apiFailure(c.createOrganization({ name: 'nope' }));
    expect(e2).toMatchObject({ status: 403, code: 'FORBIDDEN_SCOPE', classification: 'non_retryable' });
  });

  it('404 NOT_FOUND (unknown child) → non-retryable', async () => {
    const e = await apiFailure(client.getOrganization(`org_${randomUUID()}`));
    expect(e).toMatchObject({ status: 404, code: 'NOT_FOUND', classification: 'non_retryable' });
  });

  it('409 CONFLICT (allocate into an archived child) → non-retryable', async () => {
    const orgId = await newChild();
    await client.archiveOrganization(orgId);
    const e = await apiFailure(
      client.allocateCredits(orgId, { credits: 1 }, { idempotencyKey: randomUUID() }),
    );
    expect(e).toMatchObject({ status: 409, code: 'CONFLICT', classification: 'non_retryable' });
    expect(toApplicationFailure(e).type).toBe('LayersNonRetryableError');
  });

  it('409 IDEMPOTENCY_CONFLICT body_mismatch → non-retryable', async () => {
    const orgId = await newChild();
    const key = randomUUID();
    await client.allocateCredits(orgId, { credits: 10 }, { idempotencyKey: key });
    const e = await apiFailure(client.allocateCredits(orgId, { credits: 11 }, { idempotencyKey: key }));
    expect(e).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT', classification: 'non_retryable' });
    expect(e.details?.['reason']).toBe('body_mismatch');
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersNonRetryableError', nonRetryable: true });
  });

  it('409 IDEMPOTENCY_CONFLICT in_flight → retryable, and the retry replays the first outcome', async () => {
    const orgId = await newChild();
    const key = randomUUID();
    await faults([
      { method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', latencyMs: [1000, 1000] },
    ]);
    const first = client.allocateCredits(orgId, { credits: 25 }, { idempotencyKey: key });
    await sleep(250);
    const e = await apiFailure(client.allocateCredits(orgId, { credits: 25 }, { idempotencyKey: key }));
    expect(e).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT', classification: 'retryable' });
    expect(e.details?.['reason']).toBe('in_flight');
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersRetryableError', nonRetryable: false });
    const done = await first;
    await control('DELETE', '/_emulator/faults');
    const retried = await client.allocateCredits(orgId, { credits: 25 }, { idempotencyKey: key });
    expect(retried).toMatchObject({ id: done.id, replayed: true });
    expect((await client.getCredits(orgId)).balance).toBe(25);
  });

  it('422 VALIDATION (credits ≤ 0) → non-retryable', async () => {
    const orgId = await newChild();
    const e = await apiFailure(
      client.allocateCredits(orgId, { credits: 0 }, { idempotencyKey: randomUUID() }),
    );
    expect(e).toMatchObject({ status: 422, code: 'VALIDATION', classification: 'non_retryable' });
    expect(toApplicationFailure(e).message).toMatch(/^Layers 422 VALIDATION: /);
  });

  it('429 RATE_LIMITED carries Retry-After → retryable with nextRetryDelay', async () => {
    await faults([{ method: 'GET', path: '/v1/whoami', rateLimited: 1 }]);
    const e = await apiFailure(client.whoami());
    expect(e).toMatchObject({ status: 429, code: 'RATE_LIMITED', classification: 'retryable' });
    expect(typeof e.retryAfterMs).toBe('number');
    expect(e.retryAfterMs).toBeGreaterThanOrEqual(0);
    const f = toApplicationFailure(e);
    expect(f).toMatchObject({ type: 'LayersRetryableError', nonRetryable: false });
    expect(f.nextRetryDelay).toBe(e.retryAfterMs);
  });

  it('500 PLATFORM_ERROR (beforeError fault) → retryable; nothing moved', async () => {
    const orgId = await newChild();
    await faults([{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', beforeError: 1 }]);
    const e = await apiFailure(
      client.allocateCredits(orgId, { credits: 5 }, { idempotencyKey: randomUUID() }),
    );
    expect(e).toMatchObject({ status: 500, code: 'PLATFORM_ERROR', classification: 'retryable' });
    expect(toApplicationFailure(e).type).toBe('LayersRetryableError');
    await control('DELETE', '/_emulator/faults');
    expect((await client.getCredits(orgId)).balance).toBe(0);
  });

  it('503 KILL_SWITCH → blocked', async () => {
    await control('POST', '/_emulator/kill-switch', { on: true });
    const e = await apiFailure(client.whoami().then(() => client.listOrganizations()));
    expect(e).toMatchObject({ status: 503, code: 'KILL_SWITCH', classification: 'blocked' });
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersKillSwitchError', nonRetryable: true });
  });
});

describe('faults and cancellation', () => {
  it('a latency fault past headersTimeoutMs → TIMEOUT (retryable)', async () => {
    const impatient = newClient({ headersTimeoutMs: 300 });
    await faults([{ method: 'GET', path: '/v1/whoami', latencyMs: [1000, 1000] }]);
    const started = Date.now();
    const e = await apiFailure(impatient.whoami());
    // The emulator is still holding the request; let it finish so no timer outlives the test.
    await sleep(Math.max(0, 1100 - (Date.now() - started)));
    expect(e).toMatchObject({ code: 'TIMEOUT', classification: 'retryable', status: undefined });
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersRetryableError', nonRetryable: false });
    const rec = calls.filter((c) => c.route === '/v1/whoami').at(-1);
    expect(rec?.status).toBe('timeout');
  });

  it('commit-then-drop → retryable NETWORK_ERROR; the transfer committed; a same-key retry replays it', async () => {
    const orgId = await newChild();
    const key = randomUUID();
    const parentBefore = (await client.whoami()).creditBalance;
    await faults([{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', afterCommitDrop: 1 }]);
    const e = await apiFailure(client.allocateCredits(orgId, { credits: 40 }, { idempotencyKey: key }));
    expect(e).toMatchObject({ code: 'NETWORK_ERROR', classification: 'retryable', status: undefined });
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersRetryableError', nonRetryable: false });
    await control('DELETE', '/_emulator/faults');

    const committed = (await state()).transfers.filter((t) => t.toOrganizationId === orgId);
    expect(committed).toHaveLength(1);
    expect(committed[0]!.credits).toBe(40);

    const retried = await client.allocateCredits(orgId, { credits: 40 }, { idempotencyKey: key });
    expect(retried).toMatchObject({ id: committed[0]!.id, allocated: 40, replayed: true });
    expect((await client.getCredits(orgId)).balance).toBe(40);
    expect((await client.whoami()).creditBalance).toBe(parentBefore - 40);
    expect((await state()).transfers.filter((t) => t.toOrganizationId === orgId)).toHaveLength(1);
  });

  it('an AbortSignal cancels an in-flight call → ABORTED', async () => {
    await faults([{ method: 'GET', path: '/v1/whoami', latencyMs: [1000, 1000] }]);
    const ac = new AbortController();
    const started = Date.now();
    const p = client.whoami({ signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const e = await apiFailure(p);
    expect(Date.now() - started).toBeLessThan(800);
    expect(e).toMatchObject({ code: 'ABORTED', status: undefined });
    expect(calls.at(-1)).toMatchObject({ route: '/v1/whoami', status: 'aborted' });
    expect(toApplicationFailure(e)).toMatchObject({ type: 'LayersRetryableError' });
    await sleep(Math.max(0, 1100 - (Date.now() - started)));
  });
});

describe('redaction', () => {
  it('no key material in any log line, error, or failure produced above', () => {
    expect(thrown.length).toBeGreaterThan(15);
    expect(captured.logs.length).toBeGreaterThan(30);
    expect(secrets.size).toBeGreaterThanOrEqual(5);
    const texts: string[] = [];
    for (const t of thrown) {
      texts.push(JSON.stringify(t));
      if (t instanceof Error) texts.push(t.message, String(t.stack));
      if (t instanceof LayersContractError || t instanceof LayersApiError)
        texts.push(JSON.stringify(t.toJSON()));
      const details = (t as { details?: unknown }).details;
      if (details !== undefined) texts.push(JSON.stringify(details));
    }
    for (const l of captured.logs) texts.push(l.msg, JSON.stringify(l.meta ?? {}));
    const haystack = texts.join('\n');
    for (const s of secrets) expect(haystack).not.toContain(s);
    expect(haystack).not.toMatch(/whsec_/);
    expect(haystack).not.toMatch(/lp_(live|test)_[A-Za-z0-9]{16}_/);
    expect(haystack).not.toMatch(/Bearer\s+\S/);
  });
});
