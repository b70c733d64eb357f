/**
 * Typed client for the Layers Partner API.
 *
 * - One undici `Pool` per client (keep-alive), connect / headers / body timeouts, and an
 *   `AbortSignal` per call so a cancelled activity stops its in-flight request.
 * - Every 2xx body is validated with zod (schemas.ts); a mismatch throws `LayersContractError`.
 * - Every non-2xx, network error, timeout or abort throws `LayersApiError` with a classification
 *   (errors.ts) the activities map to Temporal failures (failures.ts).
 * - Single attempt per call: retries belong to Temporal, made safe by idempotency keys.
 * - Never logs, and never puts into an error, the Authorization header, a minted API key secret, a
 *   webhook signing secret or a raw response body.
 */
import { performance } from 'node:perf_hooks';
import { context, propagation } from '@opentelemetry/api';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';

import { LayersApiError, LayersContractError, classifyLayersError, parseRetryAfter } from './errors';
import { redactKnown, redactValue } from '../../common/redact';
import {
  Allocation,
  ApiKeyPage,
  ArchiveResult,
  CreatedWebhookEndpoint,
  CreditConfigResponse,
  CreditEventPage,
  DeleteWebhookEndpointResult,
  ErrorEnvelope,
  MintedApiKey,
  Organization,
  OrganizationPage,
  OrganizationWithSummary,
  Project,
  RevokeApiKeyResult,
  Wallet,
  WebhookEndpointPage,
  WhoAmI,
} from './schemas';
import type {
  AllocateCreditsRequest,
  ApiKey,
  CreateApiKeyRequest,
  CreateOrganizationRequest,
  CreateProjectRequest,
  CreateWebhookEndpointRequest,
  CreditEvent,
  ListApiKeysQuery,
  ListCreditEventsQuery,
  ListOrganizationsQuery,
  ListWebhookEndpointsQuery,
  OrganizationStatus,
  Page,
  UpdateCreditConfigRequest,
  WebhookEndpoint,
} from './schemas';

export interface LayersLogger {
  debug(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
}

export interface LayersClientOptions {
  /** API origin, e.g. `https://api.layers.com` or `http://127.0.0.1:4010`; trailing slash tolerated; the client adds `/v1`. */
  baseUrl: string;
  /** Bearer secret. Never logged, never in an error. */
  apiKey: string;
  /** TCP/TLS connect timeout, default 5_000 ms. */
  connectTimeoutMs?: number;
  /** Time to receive the response headers, default 15_000 ms. */
  headersTimeoutMs?: number;
  /** Max idle time between body chunks, default 15_000 ms. */
  bodyTimeoutMs?: number;
  /** Pool size, default 64. */
  connections?: number;
  logger?: LayersLogger;
  /** Called once per call (success or failure) — metrics and the benchmark rely on it. */
  onCall?: (call: LayersCallRecord) => void;
}

export interface LayersCallRecord {
  method: string;
  /** Pattern form, e.g. '/v1/organizations/:orgId/credits/allocate'. */
  route: string;
  /** HTTP status, or what happened instead of a response. */
  status: number | 'network_error' | 'timeout' | 'aborted';
  durationMs: number;
  /** `X-RateLimit-Endpoint-Class` of the response (read-light / write-light / long-running). */
  endpointClass?: string;
  requestId?: string;
}

export interface CallOptions {
  /** Sent as `Idempotency-Key` on writes (POST / PATCH / DELETE). */
  idempotencyKey?: string;
  /** Sent as `X-Layers-Organization`: act inside this child org with the parent key. */
  organizationId?: string;
  /** Abort the request (e.g. the activity's cancellation signal). */
  signal?: AbortSignal;
}

type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type QueryValue = string | number | boolean | undefined | null;

interface RequestSpec<S extends z.ZodType> {
  method: HttpMethod;
  /** Route pattern relative to the origin, including `/v1`. */
  route: string;
  params?: Record<string, string>;
  query?: Record<string, QueryValue>;
  body?: unknown;
  schema: S;
}

export const USER_AGENT = 'layers-onboarding-orchestrator/0.1.0 (+undici)';

const DEFAULTS = {
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 15_000,
  connections: 64,
} as const;

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const INVALID_REQUEST_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
]);

export class LayersClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly apiKey: string;
  private readonly headersTimeoutMs: number;
  private readonly bodyTimeoutMs: number;
  private readonly logger?: LayersLogger;
  private readonly onCall?: (call: LayersCallRecord) => void;
  private closed = false;

  constructor(options: LayersClientOptions) {
    if (!options || typeof options.baseUrl !== 'string' || options.baseUrl.trim() === '') {
      throw new TypeError('LayersClient: baseUrl is required');
    }
    if (typeof options.apiKey !== 'string' || options.apiKey === '') {
      throw new TypeError('LayersClient: apiKey is required');
    }
    const url = new URL(options.baseUrl.trim());
    // Tolerate a trailing slash, and a base URL that already ends in /v1.
    this.basePath = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiKey = options.apiKey;
    this.headersTimeoutMs = options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULTS.bodyTimeoutMs;
    this.logger = options.logger;
    this.onCall = options.onCall;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? DEFAULTS.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: this.headersTimeoutMs,
      bodyTimeout: this.bodyTimeoutMs,
      connect: { timeout: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs },
    });
  }

  // -------------------------------------------------------------------------------------------
  // whoami
  // -------------------------------------------------------------------------------------------

  whoami(o?: CallOptions): Promise<WhoAmI> {
    return this.call({ method: 'GET', route: '/v1/whoami', schema: WhoAmI }, o);
  }

  // -------------------------------------------------------------------------------------------
  // Organizations
  // -------------------------------------------------------------------------------------------

  createOrganization(body: CreateOrganizationRequest, o?: CallOptions): Promise<Organization> {
    return this.call({ method: 'POST', route: '/v1/organizations', body, schema: Organization }, o);
  }

  listOrganizations(q: ListOrganizationsQuery = {}, o?: CallOptions): Promise<Page<Organization>> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/organizations',
        query: { status: q.status, limit: q.limit, cursor: q.cursor },
        schema: OrganizationPage,
      },
      o,
    );
  }

  /** Every organization (optionally filtered by status), following `nextCursor`. */
  listAllOrganizations(
    q: { status?: OrganizationStatus; limit?: number } = {},
    o?: CallOptions,
  ): AsyncIterable<Organization> {
    return this.paginate('/v1/organizations', (cursor) => this.listOrganizations({ ...q, cursor }, o));
  }

  getOrganization(orgId: string, o?: CallOptions): Promise<OrganizationWithSummary> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/organizations/:orgId',
        params: { orgId },
        schema: OrganizationWithSummary,
      },
      o,
    );
  }

  /** Merged key by key; `""` unsets a key. */
  updateOrganizationMetadata(
    orgId: string,
    metadata: Record<string, string>,
    o?: CallOptions,
  ): Promise<Organization> {
    return this.call(
      {
        method: 'PATCH',
        route: '/v1/organizations/:orgId',
        params: { orgId },
        body: { metadata },
        schema: Organization,
      },
      o,
    );
  }

  suspendOrganization(orgId: string, o?: CallOptions): Promise<Organization> {
    return this.call(
      { method: 'POST', route: '/v1/organizations/:orgId/suspend', params: { orgId }, schema: Organization },
      o,
    );
  }

  resumeOrganization(orgId: string, o?: CallOptions): Promise<Organization> {
    return this.call(
      { method: 'POST', route: '/v1/organizations/:orgId/resume', params: { orgId }, schema: Organization },
      o,
    );
  }

  /** Terminal and idempotent: revokes the child's keys and reclaims its unspent credits. */
  archiveOrganization(orgId: string, o?: CallOptions): Promise<ArchiveResult> {
    return this.call(
      { method: 'DELETE', route: '/v1/organizations/:orgId', params: { orgId }, schema: ArchiveResult },
      o,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Child API keys
  // -------------------------------------------------------------------------------------------

  /** The returned `secret` is shown once. The client never logs it nor puts it in an error. */
  createApiKey(orgId: string, body: CreateApiKeyRequest, o?: CallOptions): Promise<MintedApiKey> {
    return this.call(
      {
        method: 'POST',
        route: '/v1/organizations/:orgId/api-keys',
        params: { orgId },
        body,
        schema: MintedApiKey,
      },
      o,
    );
  }

  listApiKeys(orgId: string, q: ListApiKeysQuery = {}, o?: CallOptions): Promise<Page<ApiKey>> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/organizations/:orgId/api-keys',
        params: { orgId },
        query: { limit: q.limit, cursor: q.cursor },
        schema: ApiKeyPage,
      },
      o,
    );
  }

  rotateApiKey(orgId: string, keyId: string, o?: CallOptions): Promise<MintedApiKey> {
    return this.call(
      {
        method: 'POST',
        route: '/v1/organizations/:orgId/api-keys/:keyId/rotate',
        params: { orgId, keyId },
        schema: MintedApiKey,
      },
      o,
    );
  }

  revokeApiKey(orgId: string, keyId: string, o?: CallOptions): Promise<RevokeApiKeyResult> {
    return this.call(
      {
        method: 'DELETE',
        route: '/v1/organizations/:orgId/api-keys/:keyId',
        params: { orgId, keyId },
        schema: RevokeApiKeyResult,
      },
      o,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Credits
  // -------------------------------------------------------------------------------------------

  /** Money movement: `idempotencyKey` is required (the API answers 400 IDEMPOTENCY_REQUIRED without it). */
  allocateCredits(
    orgId: string,
    body: AllocateCreditsRequest,
    o: CallOptions & { idempotencyKey: string },
  ): Promise<Allocation> {
    return this.call(
      {
        method: 'POST',
        route: '/v1/organizations/:orgId/credits/allocate',
        params: { orgId },
        body,
        schema: Allocation,
      },
      o,
    );
  }

  getCredits(orgId: string, o?: CallOptions): Promise<Wallet> {
    return this.call(
      { method: 'GET', route: '/v1/organizations/:orgId/credits', params: { orgId }, schema: Wallet },
      o,
    );
  }

  listCreditEvents(
    orgId: string,
    q: ListCreditEventsQuery = {},
    o?: CallOptions,
  ): Promise<Page<CreditEvent>> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/organizations/:orgId/credits/events',
        params: { orgId },
        query: { eventType: q.eventType, since: q.since, until: q.until, cursor: q.cursor, limit: q.limit },
        schema: CreditEventPage,
      },
      o,
    );
  }

  getCreditConfig(orgId: string, o?: CallOptions): Promise<CreditConfigResponse> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/organizations/:orgId/credit-config',
        params: { orgId },
        schema: CreditConfigResponse,
      },
      o,
    );
  }

  /** Partial update: a number sets, null clears, an omitted field is unchanged. */
  updateCreditConfig(
    orgId: string,
    patch: UpdateCreditConfigRequest,
    o?: CallOptions,
  ): Promise<CreditConfigResponse> {
    return this.call(
      {
        method: 'PATCH',
        route: '/v1/organizations/:orgId/credit-config',
        params: { orgId },
        body: patch,
        schema: CreditConfigResponse,
      },
      o,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Projects
  // -------------------------------------------------------------------------------------------

  /** Use `o.organizationId` to create the project inside a child org. */
  createProject(body: CreateProjectRequest, o?: CallOptions): Promise<Project> {
    return this.call({ method: 'POST', route: '/v1/projects', body, schema: Project }, o);
  }

  getProject(projectId: string, o?: CallOptions): Promise<Project> {
    return this.call(
      { method: 'GET', route: '/v1/projects/:projectId', params: { projectId }, schema: Project },
      o,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Webhook endpoints
  // -------------------------------------------------------------------------------------------

  /** The returned `signingSecret` is shown once. The client never logs it nor puts it in an error. */
  createWebhookEndpoint(
    body: CreateWebhookEndpointRequest,
    o?: CallOptions,
  ): Promise<CreatedWebhookEndpoint> {
    return this.call(
      { method: 'POST', route: '/v1/webhook-endpoints', body, schema: CreatedWebhookEndpoint },
      o,
    );
  }

  listWebhookEndpoints(q: ListWebhookEndpointsQuery = {}, o?: CallOptions): Promise<Page<WebhookEndpoint>> {
    return this.call(
      {
        method: 'GET',
        route: '/v1/webhook-endpoints',
        query: { cursor: q.cursor, limit: q.limit },
        schema: WebhookEndpointPage,
      },
      o,
    );
  }

  listAllWebhookEndpoints(o?: CallOptions): AsyncIterable<WebhookEndpoint> {
    return this.paginate('/v1/webhook-endpoints', (cursor) => this.listWebhookEndpoints({ cursor }, o));
  }

  deleteWebhookEndpoint(id: string, o?: CallOptions): Promise<unknown> {
    return this.call(
      {
        method: 'DELETE',
        route: '/v1/webhook-endpoints/:id',
        params: { id },
        schema: DeleteWebhookEndpointResult,
      },
      o,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  /** Close the connection pool (waits for in-flight requests). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  private paginate<T>(
    route: string,
    fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  ): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]: async function* () {
        let cursor: string | undefined;
        const seen = new Set<string>();
        for (;;) {
          const page = await fetchPage(cursor);
          for (const item of page.items) yield item;
          if (page.nextCursor === null) return;
          if (seen.has(page.nextCursor)) {
            throw new LayersContractError({
              message: `Layers contract violation on GET ${route}: field 'nextCursor' repeats a cursor already followed`,
              field: 'nextCursor',
              route,
              method: 'GET',
              status: 200,
            });
          }
          seen.add(page.nextCursor);
          cursor = page.nextCursor;
        }
      },
    };
  }

  private buildPath(spec: RequestSpec<z.ZodType>): string {
    const filled = spec.route.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
      const value = spec.params?.[name];
      if (typeof value !== 'string' || value === '') {
        throw new TypeError(`LayersClient: missing path parameter '${name}' for ${spec.route}`);
      }
      return encodeURIComponent(value);
    });
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (v !== undefined && v !== null) qs.append(k, String(v));
    }
    const query = qs.toString();
    return `${this.basePath}${filled}${query ? `?${query}` : ''}`;
  }

  private buildHeaders(
    spec: RequestSpec<z.ZodType>,
    o: CallOptions | undefined,
    hasBody: boolean,
  ): Record<string, string> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.apiKey}`,
      accept: 'application/json',
      'user-agent': USER_AGENT,
    };
    if (hasBody) headers['content-type'] = 'application/json';
    if (o?.idempotencyKey !== undefined && spec.method !== 'GET')
      headers['idempotency-key'] = o.idempotencyKey;
    if (o?.organizationId !== undefined) headers['x-layers-organization'] = o.organizationId;
    return headers;
  }

  private redact(text: string): string {
    return redactKnown(text, [this.apiKey]);
  }

  private report(record: LayersCallRecord): void {
    if (this.onCall) {
      try {
        this.onCall(record);
      } catch {
        // A metrics callback must never break a call.
      }
    }
    this.logger?.debug('layers call', { ...record });
  }

  private fail(err: LayersApiError | LayersContractError): never {
    this.logger?.warn(`layers call failed: ${err.message}`, {
      method: err.method,
      route: err.route,
      status: err.status,
      code: err.code,
      requestId: err.requestId,
      classification: err.classification,
      ...(err instanceof LayersContractError ? { field: err.field } : {}),
    });
    throw err;
  }

  private transportError(
    spec: RequestSpec<z.ZodType>,
    err: unknown,
    signal: AbortSignal | undefined,
    started: number,
    requestId?: string,
  ): never {
    const durationMs = performance.now() - started;
    const errCode = errorCode(err);
    let code: string;
    let status: LayersCallRecord['status'];
    if (signal?.aborted) {
      code = 'ABORTED';
      status = 'aborted';
    } else if (errCode && TIMEOUT_CODES.has(errCode)) {
      code = 'TIMEOUT';
      status = 'timeout';
    } else if (errCode && INVALID_REQUEST_CODES.has(errCode)) {
      // A request undici refuses to send (e.g. an invalid header value): a bug, not a blip.
      code = 'INVALID_REQUEST';
      status = 'network_error';
    } else {
      code = 'NETWORK_ERROR';
      status = 'network_error';
    }
    this.report({ method: spec.method, route: spec.route, status, durationMs, requestId });
    const cause = errorMessage(err);
    const what =
      code === 'ABORTED' ? 'request aborted' : code === 'TIMEOUT' ? 'request timed out' : 'request failed';
    this.fail(
      new LayersApiError({
        message: this.redact(
          `Layers ${code}: ${what}${errCode ? ` (${errCode})` : ''}${cause ? `: ${cause}` : ''} — ${spec.method} ${spec.route}`,
        ),
        code,
        requestId,
        classification: classifyLayersError(undefined, code),
        method: spec.method,
        route: spec.route,
      }),
    );
  }

  private async call<S extends z.ZodType>(spec: RequestSpec<S>, o?: CallOptions): Promise<z.infer<S>> {
    const path = this.buildPath(spec);
    const hasBody = spec.body !== undefined;
    const headers = this.buildHeaders(spec, o, hasBody);
    // `traceparent` of the running activity's span when tracing is on (common/tracing.ts); else a no-op.
    propagation.inject(context.active(), headers);
    const signal = o?.signal;
    const started = performance.now();

    let res: Dispatcher.ResponseData;
    try {
      if (this.closed) throw Object.assign(new Error('client is closed'), { code: 'UND_ERR_DESTROYED' });
      res = await this.pool.request({
        path,
        method: spec.method,
        headers,
        body: hasBody ? JSON.stringify(spec.body) : undefined,
        signal,
        headersTimeout: this.headersTimeoutMs,
        bodyTimeout: this.bodyTimeoutMs,
      });
    } catch (err) {
      this.transportError(spec, err, signal, started);
    }

    const requestIdHeader = headerValue(res.headers['x-request-id']);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      // Headers arrived but the body did not: we don't know the outcome — treat as transport.
      this.transportError(spec, err, signal, started, requestIdHeader);
    }
    const durationMs = performance.now() - started;
    const status = res.statusCode;
    const endpointClass = headerValue(res.headers['x-ratelimit-endpoint-class']);

    if (status >= 200 && status < 300) {
      this.report({
        method: spec.method,
        route: spec.route,
        status,
        durationMs,
        endpointClass,
        requestId: requestIdHeader,
      });
      return this.parseSuccess(spec, status, text, requestIdHeader);
    }

    // Error response: parse the envelope (never keep the raw body).
    let parsedBody: unknown;
    let isJson = false;
    try {
      parsedBody = text === '' ? undefined : JSON.parse(text);
      isJson = text !== '';
    } catch {
      isJson = false;
    }
    const envelope = isJson ? ErrorEnvelope.safeParse(parsedBody) : undefined;
    const apiError = envelope?.success ? envelope.data.error : undefined;
    const requestId = requestIdHeader ?? apiError?.requestId;
    this.report({ method: spec.method, route: spec.route, status, durationMs, endpointClass, requestId });

    const code = apiError?.code ?? (status >= 500 ? 'PLATFORM_ERROR' : `HTTP_${status}`);
    const details = apiError?.details
      ? (redactValue(apiError.details, [this.apiKey]) as Record<string, unknown>)
      : undefined;
    const apiMessage = apiError
      ? (apiError.message ?? '(no message)')
      : isJson
        ? 'unexpected error body'
        : `non-JSON error response${contentType(res.headers) ? ` (${contentType(res.headers)})` : ''}`;
    this.fail(
      new LayersApiError({
        message: this.redact(
          `Layers ${status} ${code}: ${apiMessage}${requestId ? ` (${requestId})` : ''} — ${spec.method} ${spec.route}`,
        ),
        status,
        code,
        requestId,
        details,
        retryAfterMs: parseRetryAfter(headerValue(res.headers['retry-after'])),
        method: spec.method,
        route: spec.route,
      }),
    );
  }

  private parseSuccess<S extends z.ZodType>(
    spec: RequestSpec<S>,
    status: number,
    text: string,
    requestId: string | undefined,
  ): z.infer<S> {
    let data: unknown;
    if (text === '') {
      data = undefined;
    } else {
      try {
        data = JSON.parse(text);
      } catch {
        this.fail(
          new LayersContractError({
            message: `Layers contract violation on ${spec.method} ${spec.route}: field '(body)' is not valid JSON${requestId ? ` (${requestId})` : ''}`,
            field: '(body)',
            route: spec.route,
            method: spec.method,
            status,
            requestId,
          }),
        );
      }
    }
    const result = spec.schema.safeParse(data);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.map((p) => String(p)).join('.') : '(root)';
    // The zod issue message describes the expectation, never the received value — but scrub anyway.
    const detail = issue ? issue.message : 'invalid';
    this.fail(
      new LayersContractError({
        message: this.redact(
          `Layers contract violation on ${spec.method} ${spec.route}: field '${field}' ${detail}${requestId ? ` (${requestId})` : ''}`,
        ),
        field,
        route: spec.route,
        method: spec.method,
        status,
        requestId,
      }),
    );
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) return v[0];
  return v === undefined || v === '' ? undefined : v;
}

function contentType(headers: Record<string, string | string[] | undefined>): string | undefined {
  return headerValue(headers['content-type'])?.split(';')[0]?.trim() || undefined;
}

function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && typeof (cause as { code?: unknown }).code === 'string') {
      return (cause as { code: string }).code;
    }
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  return '';
}
