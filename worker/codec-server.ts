/**
 * Remote codec server for the Temporal Web UI and CLI (Temporal's remote codec protocol):
 *
 *   POST /encode, POST /decode   body `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`
 *                                (proto3 JSON form: every bytes field base64) → the same shape back.
 *
 * Every request but a CORS preflight needs the token, compared in constant time, either as
 * `Authorization: Bearer <token>` (the `temporal` CLI: `--codec-endpoint … --codec-auth "Bearer <token>"`)
 * or as the first path segment, `/<token>/decode` — the Web UI cannot add headers to codec calls unless
 * it has a login of its own, so its codec endpoint is `http://host:8888/<token>` (set per browser in the
 * UI's codec settings, or by `--ui-codec-endpoint` for a local dev server). Without it: 401, nothing decoded.
 *
 * Nothing is parsed before the token matched (the request target is split by hand, never handed to
 * `new URL`); every handler runs behind one try/catch and answers 400/401/404/405/413/422/500, and
 * requests Node's own parser refuses get a 400 — no request stops the process. Bodies are capped in
 * bytes and in payload count.
 *
 * CORS: only the configured Web UI origins, with credentials, preflight for `Content-Type`,
 * `X-Namespace` and `Authorization`. Nothing is logged but the method, path shape and status.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * Payloads per request. The Web UI decodes one event's payloads or one page of a history per call; 500,000
 * tiny payloads (≈ 8 MB) held the event loop for 16–39 s encrypting them, so the count is capped too.
 */
export const MAX_PAYLOADS = 2_000;

export interface CodecServerOptions {
  codec: PayloadCodec;
  token: string;
  port?: number;
  host?: string;
  corsOrigins?: string[];
  /** Defaults MAX_PAYLOADS and MAX_BODY_BYTES. */
  maxPayloads?: number;
  maxBodyBytes?: number;
  /** Called once per request with no payload content: for an access log. */
  onRequest?: (entry: { method: string; route: string; status: number }) => void;
}

export interface RunningCodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function fromBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value))
    throw new HttpError(400, `${where} must be a base64 string`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function payloadFromJson(json: unknown, index: number): Payload {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new HttpError(400, `payloads[${index}] must be an object`);
  const { metadata, data } = json as JsonPayload;
  const out: Payload = {
    metadata: {},
    data:
      data === undefined || data === null ? new Uint8Array() : fromBase64(data, `payloads[${index}].data`),
  };
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata))
      throw new HttpError(400, `payloads[${index}].metadata must be an object`);
    for (const [key, value] of Object.entries(metadata))
      out.metadata![key] = fromBase64(value, `payloads[${index}].metadata.${key}`);
  }
  return out;
}

export function payloadToJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {}))
    metadata[key] = Buffer.from(value ?? []).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Splits the raw request target by hand: nothing is parsed (no URL, no percent-decoding) before the token matched. */
function pathSegments(target: string | undefined): string[] {
  const raw = target ?? '/';
  const cut = raw.search(/[?#]/);
  return (cut < 0 ? raw : raw.slice(0, cut)).split('/').filter(Boolean);
}

export function createCodecServer(options: CodecServerOptions): http.Server {
  if (!options.token || options.token.length < 16)
    throw new Error('codec server: the token must be at least 16 characters');
  const tokenDigest = digest(options.token);
  const tokenMatches = (candidate: string | undefined) =>
    candidate !== undefined && timingSafeEqual(digest(candidate), tokenDigest);
  const origins = new Set(options.corsOrigins ?? DEFAULT_CORS_ORIGINS);
  const maxPayloads = options.maxPayloads ?? MAX_PAYLOADS;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, state: { route: string }) => {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const segments = pathSegments(req.url);
    const action = segments[segments.length - 1];
    state.route = action === 'encode' || action === 'decode' ? `/${action}` : '(other)';
    const finish = (status: number, body?: unknown) => respond(req, res, options, state.route, status, body);

    if (req.method === 'OPTIONS') {
      req.resume();
      if (origin && origins.has(origin)) {
        res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
        res.setHeader('Access-Control-Max-Age', '600');
        return finish(204);
      }
      return finish(403, { error: 'origin not allowed' });
    }
    // Authentication first: only the raw bearer header and the raw first path segment are looked at.
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
    const pathToken = segments.length === 2 ? segments[0] : undefined;
    const pathTokenMatches = tokenMatches(pathToken);
    if (!tokenMatches(bearer || undefined) && !pathTokenMatches) {
      req.resume();
      res.setHeader('WWW-Authenticate', 'Bearer');
      return finish(401, { error: 'unauthorized: send Authorization: Bearer <CODEC_SERVER_TOKEN>' });
    }
    if (state.route === '(other)' || segments.length > 2 || (segments.length === 2 && !pathTokenMatches)) {
      req.resume();
      return finish(404, { error: 'POST /encode or /decode' });
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST, OPTIONS');
      return finish(405, { error: 'POST only' });
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      req.resume();
      res.setHeader('Connection', 'close');
      return finish(413, { error: `body over ${maxBodyBytes} bytes` });
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        aborted = true;
        chunks.length = 0;
        res.setHeader('Connection', 'close');
        finish(413, { error: `body over ${maxBodyBytes} bytes` });
        req.resume();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted) return;
      void (async () => {
        try {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            throw new HttpError(400, 'body must be JSON');
          }
          const list = (body as { payloads?: unknown } | null)?.payloads;
          if (!Array.isArray(list)) throw new HttpError(400, 'body must be {"payloads": [...]}');
          if (list.length > maxPayloads)
            throw new HttpError(413, `at most ${maxPayloads} payloads per request (got ${list.length})`);
          const payloads = list.map((p, i) => payloadFromJson(p, i));
          const out =
            action === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
          finish(200, { payloads: out.map(payloadToJson) });
        } catch (err) {
          if (err instanceof HttpError) finish(err.status, { error: err.message });
          // Codec errors name key ids, never key material or payload content.
          else finish(422, { error: err instanceof Error ? err.message : 'codec error' });
        }
      })();
    });
  };

  const server = http.createServer((req, res) => {
    const state = { route: '(other)' };
    // A failed socket must not surface as an unhandled 'error' event (that would stop the process).
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      handle(req, res, state);
    } catch {
      respond(req, res, options, state.route, 500, { error: 'internal error' });
    }
  });
  // Requests Node's parser refuses (bad request lines, oversized headers) get a 400, never a crash.
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

function respond(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: CodecServerOptions,
  route: string,
  status: number,
  body?: unknown,
): void {
  if (res.headersSent || res.writableEnded) return;
  try {
    options.onRequest?.({ method: req.method ?? '?', route, status });
  } catch {
    // An access-log failure must not lose the answer.
  }
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const server = createCodecServer(options);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8888, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
