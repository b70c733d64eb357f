import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from './problem';
import { fingerprint, gatewaySignedPayload, safeEqual, verifySignature } from './signature';

// Authentication of the CRM. Nothing is parsed before it: the body arrives as raw bytes (the
// content-type parser keeps them as a Buffer), the signature is checked over exactly those bytes, and
// only then is the JSON parsed. A request with no credentials at all is refused before its body is read.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `crm`: signed or bearer (the default); `none`: only /healthz; `layers`: the firehose (X-Layers-Signature). */
    auth?: 'crm' | 'none' | 'layers';
  }
  interface FastifyRequest {
    /** Who is calling, by the fingerprint of the secret or token it proved (rate-limit bucket, logs). */
    caller?: string;
    rawBody?: Buffer;
  }
}

export interface CrmCredentials {
  signingSecrets: readonly string[];
  bearerTokens: readonly string[];
}

const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', detail);

function authMode(request: FastifyRequest): 'crm' | 'none' | 'layers' {
  return request.routeOptions.config?.auth ?? 'crm';
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized('Authorization: expected "Bearer <token>"');
  return match[1];
}

/** Raw body as received (a Buffer from the raw parser, or nothing). */
export function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** JSON after authentication: an empty body is `undefined`; anything but JSON is refused. */
export function parseJsonBody(request: FastifyRequest, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const type = String(request.headers['content-type'] ?? '');
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new ProblemError(415, 'unsupported-media-type', 'content-type: the body must be application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ProblemError(400, 'malformed-json', 'body: is not valid JSON', [
      { field: '(body)', message: 'is not valid JSON' },
    ]);
  }
}

export function registerCrmAuth(app: FastifyInstance, credentials: CrmCredentials): void {
  app.addHook('onRequest', async (request) => {
    if (authMode(request) !== 'crm') return;
    if (!request.headers['x-signature'] && !request.headers.authorization) {
      throw unauthorized(
        'sign the request (X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.METHOD.path.body">) or send Authorization: Bearer <token>',
      );
    }
  });
  app.addHook('preValidation', async (request) => {
    if (authMode(request) !== 'crm') return;
    const raw = rawBodyOf(request);
    const token = bearer(request);
    if (token !== undefined) {
      // Every token is compared, so the time taken does not reveal which one nearly matched.
      const matches = credentials.bearerTokens.map((candidate) => safeEqual(candidate, token));
      const index = matches.indexOf(true);
      if (index < 0) throw unauthorized('Authorization: unknown bearer token');
      request.caller = `token:${fingerprint(credentials.bearerTokens[index]!)}`;
    } else {
      const check = verifySignature(
        String(request.headers['x-signature'] ?? ''),
        credentials.signingSecrets,
        (t) => gatewaySignedPayload(t, request.method, request.url, raw),
      );
      if (!check.ok) {
        const why = {
          missing: 'X-Signature: missing',
          malformed: 'X-Signature: expected t=<unix seconds>,v1=<64 hex digits>',
          stale: 'X-Signature: timestamp is more than 5 minutes away from the gateway clock',
          mismatch: 'X-Signature: does not match the request (method, path, body) under any current secret',
        }[check.reason];
        throw unauthorized(why);
      }
      request.caller = `signature:${fingerprint(credentials.signingSecrets[check.secretIndex]!)}`;
    }
    request.rawBody = raw;
    request.body = parseJsonBody(request, raw);
  });
}
