/** Reading request bodies and writing JSON responses, for the API and the control API alike. */
import type http from 'node:http';
import { ApiError, validation } from './errors';
import type { Json } from './validate';

const MAX_BODY = 1024 * 1024;

/** A status and a JSON body: what a route or a control handler answers. */
export interface Reply {
  status: number;
  body: Json;
}

export const ok = (body: Json): Reply => ({ status: 200, body });
export const created = (body: Json): Reply => ({ status: 201, body });

/** The method and the URL of a request, split once: the path (no query string) and the query. */
export interface Target {
  method: string;
  path: string;
  query: URLSearchParams;
}

export function targetOf(req: http.IncomingMessage): Target {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: qi < 0 ? url : url.slice(0, qi),
    query: new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1)),
  };
}

/** The whole body (≤ 1 MiB; a larger one is a 422 once fully read, so the connection stays usable). */
export function readBody(req: http.IncomingMessage): Promise<Buffer | ApiError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () =>
      resolve(
        tooLarge
          ? validation('body', 'must be at most 1 MiB')
          : chunks.length === 1
            ? chunks[0]
            : Buffer.concat(chunks),
      ),
    );
    req.on('error', () => resolve(Buffer.alloc(0)));
  });
}

/** Parse a JSON body (an empty body is `undefined`); 422 `invalid_json` otherwise. */
export function parseJsonBody(raw: Buffer | ApiError): Json | undefined {
  if (raw instanceof ApiError) throw raw;
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as Json;
  } catch {
    throw validation('body', 'is not valid JSON', { reason: 'invalid_json' });
  }
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: Json,
  headers?: Record<string, string>,
): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  if (headers) for (const h in headers) res.setHeader(h, headers[h]);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** The documented error envelope for `e` (anything that is not an ApiError is a 500 PLATFORM_ERROR). */
export function sendError(res: http.ServerResponse, requestId: string, e: unknown): void {
  const err = asApiError(e);
  sendJson(res, err.status, err.body(requestId) as unknown as Json, err.headers);
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError('PLATFORM_ERROR', 'Internal error.', {
    reason: e instanceof Error ? e.message : String(e),
  });
}
