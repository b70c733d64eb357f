/**
 * LayersClient against a tiny scripted local HTTP server: request shape, contract violations,
 * odd error bodies, timeouts, dropped connections, aborts, pagination, redaction.
 */
import {
  LayersApiError,
  LayersClient,
  LayersContractError,
  toApplicationFailure,
  type LayersCallRecord,
} from '../../activities/layers';
import {
  KEY,
  ORG,
  apiError,
  apiKeyFixture,
  capturingLogger,
  json,
  orgFixture,
  rejectionOf,
  sleep,
  startScriptedServer,
  type ScriptedServer,
} from './helpers';

const API_KEY = 'lp_live_PARENTKEY0000000_superSecretParentKeyMaterial01';
const MINTED = 'lp_live_ABCDEFGHJKMNPQRS_mintedSecretMaterial0123456789';

let server: ScriptedServer;
let client: LayersClient;
let calls: LayersCallRecord[];
let captured: ReturnType<typeof capturingLogger>;

beforeEach(async () => {
  server = await startScriptedServer();
  calls = [];
  captured = capturingLogger();
  client = new LayersClient({
    baseUrl: `${server.url}/`,
    apiKey: API_KEY,
    headersTimeoutMs: 500,
    bodyTimeoutMs: 500,
    connectTimeoutMs: 500,
    logger: captured.logger,
    onCall: (c) => calls.push(c),
  });
});

afterEach(async () => {
  await client.close();
  await server.close();
});

describe('requests', () => {
  it('sends auth, accept, user-agent; JSON body + idempotency key + org header on writes', async () => {
    server.handle((_req, res) =>
      json(res, 201, orgFixture(), { 'x-ratelimit-endpoint-class': 'write-light' }),
    );
    const org = await client.createOrganization(
      { name: 'Acme Coffee', metadata: { externalId: 'acme-coffee' } },
      { idempotencyKey: 'idem-1', organizationId: ORG },
    );
    expect(org.id).toBe(ORG);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/organizations');
    expect(req.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(req.headers['accept']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/layers-onboarding-orchestrator/);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['idempotency-key']).toBe('idem-1');
    expect(req.headers['x-layers-organization']).toBe(ORG);
    expect(JSON.parse(req.body)).toEqual({ name: 'Acme Coffee', metadata: { externalId: 'acme-coffee' } });
    expect(calls).toEqual([
      expect.objectContaining({
        method: 'POST',
        route: '/v1/organizations',
        status: 201,
        endpointClass: 'write-light',
        requestId: 'req_TEST0000000000000000000000',
      }),
    ]);
    expect(calls[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('GET: no body, no content-type, no idempotency key; query string; route in pattern form', async () => {
    server.handle((_req, res) => json(res, 200, { items: [orgFixture()], nextCursor: null }));
    await client.listOrganizations({ status: 'active', limit: 10 }, { idempotencyKey: 'ignored' });
    const req = server.requests[0]!;
    expect(req.url).toBe('/v1/organizations?status=active&limit=10');
    expect(req.headers['content-type']).toBeUndefined();
    expect(req.headers['idempotency-key']).toBeUndefined();
    expect(req.headers['x-layers-organization']).toBeUndefined();
    expect(req.body).toBe('');

    server.handle((_req, res) =>
      json(res, 200, {
        id: 'txn_7f3a2b1c-9d8e-4f0a-b1c2-3d4e5f6a7b8c',
        organizationId: ORG,
        allocated: 5,
        balance: 5,
        available: 5,
        description: null,
        metadata: {},
        created: '2026-06-03T18:14:02.187000+00:00',
        replayed: true,
      }),
    );
    const alloc = await client.allocateCredits(ORG, { credits: 5 }, { idempotencyKey: 'k-1' });
    expect(alloc.replayed).toBe(true);
    expect(server.requests[1]!.url).toBe(`/v1/organizations/${ORG}/credits/allocate`);
    expect(calls.map((c) => c.route)).toEqual([
      '/v1/organizations',
      '/v1/organizations/:orgId/credits/allocate',
    ]);
  });

  it('POST without a body (suspend) sends no content-type; path params are encoded', async () => {
    server.handle((_req, res) => json(res, 200, orgFixture({ status: 'suspended' })));
    await client.suspendOrganization(ORG);
    expect(server.requests[0]!.headers['content-type']).toBeUndefined();
    await rejectionOf(client.getProject('prj_a/../b'));
    expect(server.requests[1]!.url).toBe('/v1/projects/prj_a%2F..%2Fb');
  });

  it('tolerates a base URL that already ends in /v1', async () => {
    const c2 = new LayersClient({ baseUrl: `${server.url}/v1/`, apiKey: API_KEY });
    server.handle((_req, res) => json(res, 200, orgFixture()));
    await c2.suspendOrganization(ORG);
    await c2.close();
    expect(server.requests[0]!.url).toBe(`/v1/organizations/${ORG}/suspend`);
  });

  it('listAllOrganizations follows nextCursor to the end', async () => {
    server.handle((req, res) => {
      const cursor = new URL(req.url, 'http://x').searchParams.get('cursor');
      const n = cursor ? Number(cursor.slice(1)) : 0;
      json(res, 200, {
        items: [orgFixture({ id: `org_0000000${n}-0000-4000-8000-000000000000` })],
        nextCursor: n < 2 ? `c${n + 1}` : null,
      });
    });
    const ids: string[] = [];
    for await (const o of client.listAllOrganizations({ status: 'active' })) ids.push(o.id);
    expect(ids).toHaveLength(3);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v1/organizations?status=active',
      '/v1/organizations?status=active&cursor=c1',
      '/v1/organizations?status=active&cursor=c2',
    ]);
  });

  it('a pagination loop (repeated cursor) is a contract error, not an infinite loop', async () => {
    server.handle((_req, res) => json(res, 200, { items: [], nextCursor: 'same' }));
    const err = await rejectionOf(
      (async () => {
        for await (const _ of client.listAllWebhookEndpoints()) void _;
      })(),
    );
    expect(err).toBeInstanceOf(LayersContractError);
    expect((err as LayersContractError).field).toBe('nextCursor');
  });
});

describe('contract violations', () => {
  it('a mint response with a malformed prefix names apiKey.prefix and never leaks the secret', async () => {
    server.handle((_req, res) =>
      json(res, 201, {
        apiKey: apiKeyFixture({ prefix: 'sk_nope' }),
        secret: MINTED,
        warning: 'Store this secret now.',
      }),
    );
    const err = await rejectionOf(client.createApiKey(ORG, { name: 'acme', scopes: ['content:read'] }));
    expect(err).toBeInstanceOf(LayersContractError);
    const e = err as LayersContractError;
    expect(e.field).toBe('apiKey.prefix');
    expect(e.message).toContain("'apiKey.prefix'");
    expect(e.route).toBe('/v1/organizations/:orgId/api-keys');
    expect(e.requestId).toBe('req_TEST0000000000000000000000');
    const everything = [
      e.message,
      JSON.stringify(e),
      e.stack,
      JSON.stringify(toApplicationFailure(e)),
      JSON.stringify(captured.logs),
    ].join('\n');
    expect(everything).not.toContain(MINTED);
    expect(everything).not.toContain('mintedSecretMaterial');
    expect(everything).not.toContain(API_KEY);
    const f = toApplicationFailure(e);
    expect(f.type).toBe('LayersContractError');
    expect(f.nonRetryable).toBe(true);
  });

  it('a webhook create response with a bad signing secret names signingSecret without echoing it', async () => {
    server.handle((_req, res) =>
      json(res, 201, {
        id: 'whe_1d7f0c52-62a4-4f0c-9d8a-1f2e3d4c5b6a',
        url: 'https://x.example/h',
        events: ['test.ping'],
        scope: 'own',
        signingSecret: 'whsec_short',
      }),
    );
    const e = (await rejectionOf(
      client.createWebhookEndpoint({ url: 'https://x.example/h', events: ['test.ping'] }),
    )) as LayersContractError;
    expect(e.field).toBe('signingSecret');
    expect([e.message, JSON.stringify(e), JSON.stringify(captured.logs)].join()).not.toContain('whsec_short');
  });

  it.each([
    ['wrong id prefix', () => orgFixture({ id: 'prj_1' }), 'id'],
    ['bad status enum', () => orgFixture({ status: 'deleted' }), 'status'],
    [
      'billingEmail missing (must be string|null)',
      () => ({ ...orgFixture(), billingEmail: undefined }),
      'billingEmail',
    ],
    ['metadata value not a string', () => orgFixture({ metadata: { n: 1 } }), 'metadata.n'],
    ['array instead of object', () => [orgFixture()], '(root)'],
  ])('%s', async (_name, body, field) => {
    server.handle((_req, res) => json(res, 200, body()));
    const e = await rejectionOf(client.resumeOrganization(ORG));
    expect(e).toBeInstanceOf(LayersContractError);
    expect((e as LayersContractError).field).toBe(field);
  });

  it('nested: summary.creditConfig.autoRefillEnabled; credits must be integers', async () => {
    server.handle((_req, res) =>
      json(res, 200, {
        ...orgFixture(),
        summary: {
          projectCount: 0,
          balance: 0,
          available: 0,
          creditConfig: { monthlyCreditCap: null, refillThreshold: null, refillAmount: null },
        },
      }),
    );
    expect(((await rejectionOf(client.getOrganization(ORG))) as LayersContractError).field).toBe(
      'summary.creditConfig.autoRefillEnabled',
    );

    server.handle((_req, res) =>
      json(res, 200, { organizationId: ORG, balance: 10.5, available: 10, reservedCredits: 0 }),
    );
    expect(((await rejectionOf(client.getCredits(ORG))) as LayersContractError).field).toBe('balance');

    server.handle((_req, res) =>
      json(res, 200, {
        items: [{ eventId: 'cev_1', credits: 5, eventType: 'gift', createdAt: 'x' }],
        nextCursor: null,
      }),
    );
    expect(((await rejectionOf(client.listCreditEvents(ORG))) as LayersContractError).field).toBe(
      'items.0.eventType',
    );
  });

  it('a non-JSON 2xx body is a contract error on (body)', async () => {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    });
    const e = (await rejectionOf(client.whoami())) as LayersContractError;
    expect(e).toBeInstanceOf(LayersContractError);
    expect(e.field).toBe('(body)');
    expect(e.message).not.toContain('<html>');
  });

  it('revoke requires deleted: true', async () => {
    server.handle((_req, res) =>
      json(res, 200, { apiKey: apiKeyFixture({ status: 'revoked' }), deleted: false }),
    );
    expect(((await rejectionOf(client.revokeApiKey(ORG, KEY))) as LayersContractError).field).toBe('deleted');
  });
});

describe('error responses', () => {
  it('parses the envelope into LayersApiError with a formatted, scrubbed message', async () => {
    server.handle((_req, res) =>
      apiError(res, 422, 'VALIDATION', 'credits must be a positive integer', { field: 'credits' }),
    );
    const e = (await rejectionOf(
      client.allocateCredits(ORG, { credits: 0 }, { idempotencyKey: 'k' }),
    )) as LayersApiError;
    expect(e).toBeInstanceOf(LayersApiError);
    expect(e).toMatchObject({
      status: 422,
      code: 'VALIDATION',
      requestId: 'req_TEST0000000000000000000000',
      details: { field: 'credits' },
      classification: 'non_retryable',
      method: 'POST',
      route: '/v1/organizations/:orgId/credits/allocate',
    });
    expect(e.message).toMatch(/^Layers 422 VALIDATION: credits must be a positive integer \(req_TEST0+\)/);
    expect(calls[0]).toMatchObject({ status: 422, route: '/v1/organizations/:orgId/credits/allocate' });
    expect(captured.logs.some((l) => l.level === 'warn' && l.msg.includes('VALIDATION'))).toBe(true);
  });

  it('non-JSON 5xx → PLATFORM_ERROR (retryable); non-JSON 4xx → HTTP_<status>', async () => {
    server.handle((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    const e1 = (await rejectionOf(client.whoami())) as LayersApiError;
    expect(e1).toMatchObject({ status: 502, code: 'PLATFORM_ERROR', classification: 'retryable' });
    expect(e1.message).not.toContain('<html>');

    server.handle((_req, res) => {
      res.writeHead(418, { 'content-type': 'text/plain' });
      res.end('teapot');
    });
    expect(await rejectionOf(client.whoami())).toMatchObject({
      status: 418,
      code: 'HTTP_418',
      classification: 'non_retryable',
    });

    server.handle((_req, res) => json(res, 400, { message: 'not an envelope' }));
    expect(await rejectionOf(client.whoami())).toMatchObject({
      status: 400,
      code: 'HTTP_400',
      classification: 'non_retryable',
    });
  });

  it('429 carries retryAfterMs from seconds or an HTTP-date; absent → undefined', async () => {
    server.handle((_req, res) =>
      apiError(res, 429, 'RATE_LIMITED', 'slow down', undefined, { 'retry-after': '7' }),
    );
    const e = (await rejectionOf(client.whoami())) as LayersApiError;
    expect(e).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      classification: 'retryable',
      retryAfterMs: 7000,
    });
    expect(toApplicationFailure(e).nextRetryDelay).toBe(7000);

    const at = new Date(Date.now() + 30_000).toUTCString();
    server.handle((_req, res) =>
      apiError(res, 429, 'RATE_LIMITED', 'slow down', undefined, { 'retry-after': at }),
    );
    const e2 = (await rejectionOf(client.whoami())) as LayersApiError;
    expect(e2.retryAfterMs).toBeGreaterThan(25_000);
    expect(e2.retryAfterMs).toBeLessThanOrEqual(30_000);

    server.handle((_req, res) => apiError(res, 429, 'RATE_LIMITED', 'slow down'));
    expect(((await rejectionOf(client.whoami())) as LayersApiError).retryAfterMs).toBeUndefined();
  });

  it('never echoes key material an error body happens to contain', async () => {
    server.handle((req, res) =>
      apiError(res, 401, 'UNAUTHENTICATED', `bad key ${String(req.headers['authorization'])} and ${MINTED}`, {
        header: String(req.headers['authorization']),
        secret: 'plain-secret-value',
      }),
    );
    const e = (await rejectionOf(client.whoami())) as LayersApiError;
    expect(e.code).toBe('UNAUTHENTICATED');
    const everything = [
      e.message,
      JSON.stringify(e),
      String(e.stack),
      JSON.stringify(toApplicationFailure(e)),
      JSON.stringify(captured.logs),
    ].join('\n');
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain('superSecretParentKeyMaterial');
    expect(everything).not.toContain(MINTED);
    expect(everything).not.toContain('plain-secret-value');
  });

  it('scrubs the exact API key even when it does not look like lp_…', async () => {
    const odd = 'opaque-parent-token-0123456789';
    const c = new LayersClient({ baseUrl: server.url, apiKey: odd, logger: captured.logger });
    server.handle((_req, res) => apiError(res, 401, 'UNAUTHENTICATED', `unknown key ${odd}`));
    const e = (await rejectionOf(c.whoami())) as LayersApiError;
    await c.close();
    expect([e.message, JSON.stringify(e), JSON.stringify(captured.logs)].join()).not.toContain(odd);
  });
});

describe('transport failures', () => {
  it('headers timeout → TIMEOUT (retryable), onCall status timeout', async () => {
    server.handle(async (_req, res) => {
      await sleep(1_500);
      json(res, 200, orgFixture());
    });
    const e = (await rejectionOf(client.suspendOrganization(ORG))) as LayersApiError;
    expect(e).toBeInstanceOf(LayersApiError);
    expect(e).toMatchObject({ code: 'TIMEOUT', classification: 'retryable', status: undefined });
    expect(calls[0]).toMatchObject({ status: 'timeout', route: '/v1/organizations/:orgId/suspend' });
    expect(toApplicationFailure(e).type).toBe('LayersRetryableError');
  });

  it('body timeout (headers sent, body stalls) → TIMEOUT', async () => {
    server.handle(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
      await sleep(1_500);
      res.end('"x"}');
    });
    const e = (await rejectionOf(client.whoami())) as LayersApiError;
    expect(e).toMatchObject({ code: 'TIMEOUT', classification: 'retryable' });
  });

  it('server drops the connection → NETWORK_ERROR (retryable)', async () => {
    server.handle((_req, res) => {
      res.socket?.destroy();
    });
    const e = (await rejectionOf(
      client.allocateCredits(ORG, { credits: 1 }, { idempotencyKey: 'k' }),
    )) as LayersApiError;
    expect(e).toMatchObject({ code: 'NETWORK_ERROR', classification: 'retryable', status: undefined });
    expect(calls[0]).toMatchObject({ status: 'network_error' });
  });

  it('connection refused → NETWORK_ERROR', async () => {
    const dead = await startScriptedServer();
    const url = dead.url;
    await dead.close();
    const c = new LayersClient({ baseUrl: url, apiKey: API_KEY });
    const e = (await rejectionOf(c.whoami())) as LayersApiError;
    await c.close();
    expect(e).toMatchObject({ code: 'NETWORK_ERROR', classification: 'retryable' });
  });

  it('AbortSignal stops an in-flight request → ABORTED', async () => {
    let sawClose = false;
    server.handle(async (req, res) => {
      res.on('close', () => {
        sawClose = true;
      });
      await sleep(400);
      if (!res.destroyed) json(res, 200, orgFixture());
    });
    const ac = new AbortController();
    const p = client.suspendOrganization(ORG, { signal: ac.signal });
    while (server.requests.length === 0) await sleep(10);
    ac.abort();
    const e = (await rejectionOf(p)) as LayersApiError;
    expect(e).toMatchObject({ code: 'ABORTED', status: undefined });
    expect(calls[0]).toMatchObject({ status: 'aborted' });
    await sleep(50);
    expect(sawClose).toBe(true);
  });

  it('an already-aborted signal never sends', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    const e = (await rejectionOf(client.whoami({ signal: ac.signal }))) as LayersApiError;
    expect(e.code).toBe('ABORTED');
    expect(server.requests).toHaveLength(0);
  });

  it('calls after close() fail fast with a NETWORK_ERROR', async () => {
    await client.close();
    expect(await rejectionOf(client.whoami())).toMatchObject({ code: 'NETWORK_ERROR' });
  });
});
