/** Test helpers for the Layers client tests: a tiny scripted HTTP server and a capturing logger. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Replace the handler for subsequent requests. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** Start a local HTTP server on 127.0.0.1:0 whose responses the test scripts. */
export async function startScriptedServer(initial?: Handler): Promise<ScriptedServer> {
  let handler: Handler = initial ?? ((_req, res) => json(res, 200, {}));
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      Promise.resolve(handler(rec, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(h) {
      handler = h;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': 'req_TEST0000000000000000000000',
    ...headers,
  });
  res.end(text);
}

export function apiError(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  json(
    res,
    status,
    {
      error: { code, message, requestId: 'req_TEST0000000000000000000000', ...(details ? { details } : {}) },
    },
    headers,
  );
}

export interface CapturedLog {
  level: 'debug' | 'warn';
  msg: string;
  meta?: object;
}

export function capturingLogger(): {
  logs: CapturedLog[];
  logger: { debug(msg: string, meta?: object): void; warn(msg: string, meta?: object): void };
} {
  const logs: CapturedLog[] = [];
  return {
    logs,
    logger: {
      debug: (msg, meta) => logs.push({ level: 'debug', msg, meta }),
      warn: (msg, meta) => logs.push({ level: 'warn', msg, meta }),
    },
  };
}

/** Run a promise expected to reject and return the rejection. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Fixtures matching the documented shapes.
export const ORG = 'org_d4e5f6a7-8b9c-4d0e-9f2a-3b4c5d6e7f80';
export const PARENT = 'org_2481fa5c-a404-44ed-a561-565392499abc';
export const KEY = 'key_c2037bb9-354d-4662-96b7-97a28ad6b6e1';

export const orgFixture = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: ORG,
  parentOrganizationId: PARENT,
  name: 'Acme Coffee',
  status: 'active',
  metadata: { externalId: 'acme-coffee' },
  billingEmail: null,
  archivedAt: null,
  createdAt: '2026-06-01T14:30:00.000000+00:00',
  updatedAt: '2026-06-01T14:30:00.000000+00:00',
  ...over,
});

export const apiKeyFixture = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: KEY,
  organizationId: ORG,
  name: 'acme-integration',
  prefix: 'lp_live_ABCDEFGHJKMNPQRS',
  scopes: ['content:read', 'content:write'],
  status: 'active',
  ...over,
});
