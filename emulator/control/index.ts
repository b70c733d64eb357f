/**
 * The control API under /_emulator/ — not part of the Layers API. No API keys, no rate limits, no
 * faults, not counted in `requests`. Only served at the root: /v1/_emulator/... is a plain 404.
 * Only loopback clients naming a loopback Host may use it, with the token when one is set (access.ts).
 * Handlers are grouped by what they act on, like the API routes.
 */
import type http from 'node:http';
import { notFound } from '../errors';
import { parseJsonBody, readBody, sendError, sendJson, type Target } from '../http-io';
import { Router } from '../router';
import type { Emulator } from '../server';
import { bodyObject } from '../validate';
import { checkControlAccess } from './access';
import { creditControlRoutes } from './credits';
import type { ControlCall, ControlRoute } from './kit';
import { organizationControlRoutes } from './organizations';
import { stateRoutes } from './state';
import { webhookControlRoutes } from './webhooks';

const router = new Router<ControlRoute>([
  ...stateRoutes,
  ...organizationControlRoutes,
  ...creditControlRoutes,
  ...webhookControlRoutes,
]);

export async function handleControl(
  emu: Emulator,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  requestId: string,
  { method, path, query }: Target,
): Promise<void> {
  res.setHeader('X-RateLimit-Endpoint-Class', method === 'GET' ? 'read-light' : 'write-light');
  const raw = await readBody(req);
  try {
    checkControlAccess(req, emu.opts.controlToken);
    const m = router.match(method, path);
    if (!m) throw notFound('Control route');
    const call: ControlCall = {
      emu,
      store: emu.store,
      params: m.params,
      query,
      json: () => parseJsonBody(raw),
      body: (allowed) => bodyObject(parseJsonBody(raw), allowed),
    };
    const reply = m.def.handle(call);
    sendJson(res, reply.status, reply.body);
  } catch (e) {
    sendError(res, requestId, e);
  }
}
