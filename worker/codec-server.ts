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
 * CORS: only the configured Web UI origins, with credentials, preflight for `Content-Type`,
 * `X-Namespace` and `Authorization`. Request bodies are capped; nothing is logged but the method,
 * path shape and status.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  token: string;
  port?: number;
  host?: string;
  corsOrigins?: string[];
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
  if (typeof value !== 'string' || !BASE64.test(value)) throw new HttpError(400, `${where} must be a base64 string`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function payloadFromJson(json: unknown, index: number): Payload {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new HttpError(400, `payloads[${index}] must be an object`);
  const { metadata, data } = json as JsonPayload;
  const out: Payload = { metadata: {}, data: data === undefined || data === null ? new Uint8Array() : fromBase64(data, `payloads[${index}].data`) };
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new HttpError(400, `payloads[${index}].metadata must be an object`);
    for (const [key, value] of Object.entries(metadata)) out.metadata![key] = fromBase64(value, `payloads[${index}].metadata.${key}`);
  }
  return out;
}

export function payloadToJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) metadata[key] = Buffer.from(value ?? []).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function createCodecServer(options: CodecServerOptions): http.Server {
  if (!options.token || options.token.length < 16) throw new Error('codec server: the token must be at least 16 characters');
  const tokenDigest = digest(options.token);
  const tokenMatches = (candidate: string | undefined) => candidate !== undefined && timingSafeEqual(digest(candidate), tokenDigest);
  const origins = new Set(options.corsOrigins ?? DEFAULT_CORS_ORIGINS);

  return http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const url = new URL(req.url ?? '/', 'http://codec.invalid');
    const segments = url.pathname.split('/').filter(Boolean);
    const action = segments[segments.length - 1];
    const pathToken = segments.length === 2 ? safeDecode(segments[0]!) : undefined;
    const route = action === 'encode' || action === 'decode' ? `/${action}` : '(other)';
    const finish = (status: number, body?: unknown) => {
      options.onRequest?.({ method: req.method ?? '?', route, status });
      if (body === undefined) {
        res.writeHead(status);
        res.end();
        return;
      }
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    };

    if (req.method === 'OPTIONS') {
      if (origin && origins.has(origin)) {
        res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
        res.setHeader('Access-Control-Max-Age', '600');
        return finish(204);
      }
      return finish(403, { error: 'origin not allowed' });
    }
    if (route === '(other)' || segments.length > 2) return finish(404, { error: 'POST /encode or /decode' });
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      return finish(405, { error: 'POST only' });
    }
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(.+)$/i.exec(header.trim())?.[1];
    if (!tokenMatches(bearer || undefined) && !tokenMatches(pathToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      req.resume();
      return finish(401, { error: 'unauthorized: send Authorization: Bearer <CODEC_SERVER_TOKEN>' });
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES && !aborted) {
        aborted = true;
        finish(413, { error: `body over ${MAX_BODY_BYTES} bytes` });
        req.destroy();
      } else if (!aborted) chunks.push(chunk);
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
          const payloads = list.map((p, i) => payloadFromJson(p, i));
          const out = action === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
          finish(200, { payloads: out.map(payloadToJson) });
        } catch (err) {
          if (err instanceof HttpError) finish(err.status, { error: err.message });
          // Codec errors name key ids, never key material or payload content.
          else finish(422, { error: err instanceof Error ? err.message : 'codec error' });
        }
      })();
    });
  });
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
