/**
 * Shared helpers for the emulator contract tests: an in-process emulator per test file (reset
 * before each test), a tiny HTTP client, the documented example bodies as fixtures, a webhook
 * receiver and a bounded wait helper (no sleeps where a condition can be awaited).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator';

// Response bodies are asserted field by field; `any` keeps those assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export interface Res {
  status: number;
  body: Body;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  /** The bearer key (default: the parent key); `null` sends no Authorization header. */
  key?: string | null;
  /** An Idempotency-Key (default: a fresh UUID on POST/PATCH/DELETE); `false` sends none. */
  idem?: string | false;
  headers?: Record<string, string>;
  /** Send this exact text as the body (with `contentType`). */
  raw?: string;
  contentType?: string;
}

// ---------------------------------------------------------------- fixtures (the docs' example bodies)

/** 002 "Create the customer's org". */
export const ACME = { name: 'Acme Coffee', metadata: { externalId: 'acme-coffee', plan: 'growth' } };
/** 000 step 1. */
export const ACME_QUICKSTART = { name: 'Acme Coffee', metadata: { externalId: 'acme-coffee' } };
/** 000 step 2 / 002 "Issue an API key". */
export const ACME_KEY = { name: 'acme-integration', scopes: ['content:read', 'content:write'] };
/** 000 step 3 / 002 "Fund". */
export const ALLOCATE_5000 = { credits: 5000 };
/** 003 example. */
export const ALLOCATE_Q3 = {
  credits: 5000,
  description: 'Q3 budget top-up',
  metadata: { invoice: 'inv_2026_0142' },
};
/** 000 step 4 / 002 / 004 PATCH example. */
export const CREDIT_CONFIG = { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 };
/** 000 step 5 / 002 firehose. */
export const FIREHOSE = {
  url: 'https://quinns-crm.example.com/layers/webhooks',
  events: ['content.generated', 'post.published'],
  scope: 'all_children',
};
/** 002 "Work inside the child org". */
export const ACME_PROJECT = { name: 'Acme Coffee', timezone: 'America/Los_Angeles' };
/** The docs' example id: well-formed, never issued by the emulator. */
export const DOCS_ORG_ID = 'org_d4e5f6a7-8b9c-4d0e-9f2a-3b4c5d6e7f80';

export const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;
export const ORG_ID = /^org_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const KEY_ID = /^key_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TXN_ID = /^txn_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const REQ_ID = /^req_[0-9A-HJKMNP-TV-Z]{26}$/;
export const SECRET = /^lp_live_[0-9A-HJKMNP-TV-Z]{16}_[A-Za-z0-9]{32}$/;

// ---------------------------------------------------------------- the harness

export interface Harness {
  readonly emu: RunningEmulator;
  readonly url: string;
  readonly parentKey: string;
  readonly parentId: string;
  call(method: string, path: string, opts?: CallOptions): Promise<Res>;
  get(path: string, opts?: CallOptions): Promise<Res>;
  post(path: string, body?: unknown, opts?: CallOptions): Promise<Res>;
  patch(path: string, body?: unknown, opts?: CallOptions): Promise<Res>;
  del(path: string, opts?: CallOptions): Promise<Res>;
  control(method: string, path: string, body?: unknown): Promise<Res>;
  state(): Promise<Body>;
  createChild(body?: unknown): Promise<Body>;
  allocate(orgId: string, credits: number, opts?: CallOptions): Promise<Res>;
  mintKey(orgId: string, scopes?: string[]): Promise<{ id: string; secret: string }>;
  usage(
    orgId: string,
    action: 'reserve' | 'settle' | 'release',
    credits: number,
    projectId?: string,
  ): Promise<Res>;
  advance(ms: number): Promise<void>;
  wallet(orgId: string): Promise<Body>;
}

export function useEmulator(options: EmulatorOptions = {}): Harness {
  let emu: RunningEmulator | undefined;
  const running = (): RunningEmulator => {
    if (!emu) throw new Error('emulator not started');
    return emu;
  };

  beforeAll(async () => {
    emu = await startEmulator({ port: 0, quiet: true, webhookRetryBaseMs: 10, ...options });
  });
  beforeEach(async () => {
    const r = await fetch(`${running().url}/_emulator/reset`, { method: 'POST' });
    expect(r.status).toBe(200);
  });
  afterAll(async () => {
    await emu?.close();
  });

  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<Res> => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? running().parentKey : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const idem = opts.idem === undefined ? (method === 'GET' ? false : randomUUID()) : opts.idem;
    if (idem !== false) headers['idempotency-key'] = idem;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/json';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const r = await fetch(`${running().url}${path}`, { method, headers, body });
    const text = await r.text();
    let parsed: Body = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: r.status, body: parsed, headers: r.headers };
  };

  const h: Harness = {
    get emu() {
      return running();
    },
    get url() {
      return running().url;
    },
    get parentKey() {
      return running().parentKey;
    },
    get parentId() {
      return running().parentOrganizationId;
    },
    call,
    get: (path, opts) => call('GET', path, opts),
    post: (path, body, opts) => call('POST', path, { ...opts, body }),
    patch: (path, body, opts) => call('PATCH', path, { ...opts, body }),
    del: (path, opts) => call('DELETE', path, opts),
    control: (method, path, body) => call(method, path, { body, key: null, idem: false }),
    state: async () => (await call('GET', '/_emulator/state', { key: null })).body,
    createChild: async (body = ACME) => {
      const r = await call('POST', '/v1/organizations', { body });
      expect(r.status).toBe(201);
      return r.body;
    },
    allocate: (orgId, credits, opts) =>
      call('POST', `/v1/organizations/${orgId}/credits/allocate`, { body: { credits }, ...opts }),
    mintKey: async (orgId, scopes = ['content:read', 'content:write']) => {
      const r = await call('POST', `/v1/organizations/${orgId}/api-keys`, { body: { name: 'k', scopes } });
      expect(r.status).toBe(201);
      return { id: r.body.apiKey.id, secret: r.body.secret };
    },
    usage: (orgId, action, credits, projectId) =>
      call('POST', `/_emulator/organizations/${orgId}/usage`, {
        body: { action, credits, ...(projectId ? { projectId } : {}) },
        key: null,
        idem: false,
      }),
    advance: async (ms) => {
      const r = await call('POST', '/_emulator/clock', { body: { advanceMs: ms }, key: null, idem: false });
      expect(r.status).toBe(200);
    },
    wallet: async (orgId) => {
      const s = await h.state();
      return s.wallets.find((w: Body) => w.organizationId === orgId);
    },
  };
  return h;
}

/** Assert the documented error envelope. */
export function expectError(r: Res, status: number, code: string, details?: Record<string, unknown>): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(r.body.error.requestId).toMatch(REQ_ID);
  // A replay is the original body verbatim (original requestId); the header names this request.
  if (r.headers.get('idempotent-replayed') !== 'true')
    expect(r.body.error.requestId).toBe(r.headers.get('x-request-id'));
  expect(typeof r.body.error.message).toBe('string');
  if (details) expect(r.body.error.details).toMatchObject(details);
}

/** Poll `probe` until it returns a truthy value (bounded). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------- webhook receiver

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Body;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status codes to answer, in order; once exhausted, 200. */
  script: number[];
  close(): Promise<void>;
}

export async function startReceiver(path = '/hooks'): Promise<Receiver> {
  const received: Received[] = [];
  const rcv: Partial<Receiver> = { received, script: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body, json: JSON.parse(body), at: Date.now() });
      const status = rcv.script?.shift() ?? 200;
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rcv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  rcv.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return rcv as Receiver;
}
