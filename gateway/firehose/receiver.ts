import type { FastifyBaseLogger, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseJsonBody, rawBodyOf } from '../auth';
import { LruCache } from '../lru';
import { ProblemError } from '../problem';
import { verifySignature } from '../signature';
import type { OrgAttribution } from './attribution';
import type { CrmForwarder } from './crm-forwarder';
import type { FirehoseSecrets } from './secrets';

// POST /layers/webhooks: the partner firehose (one parent endpoint, scope all_children). A delivery is
// answered 2xx only once the CRM took it, so Layers' own retries are the durable queue; a repeat of an
// event id (a retry, or the same event through a second endpoint during a secret rotation) is answered
// from memory without a second forward, and the CRM dedupes by Idempotency-Key beyond that memory.

const eventSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  createdAt: z.string().optional(),
  data: z.object({ organizationId: z.string().optional() }).loose().default({}),
});

export interface FirehoseOutcome {
  eventId: string;
  forwarded: boolean;
  externalId?: string;
  reason?: string;
}

export interface FirehoseDeps {
  secrets: FirehoseSecrets;
  attribution: OrgAttribution;
  forwarder: CrmForwarder;
  /** How many handled event ids are remembered (the CRM's own dedupe covers the rest). */
  rememberEvents?: number;
  ratePerMinute?: number;
}

export function firehoseReceiver(deps: FirehoseDeps): FastifyPluginAsync {
  const handled = new LruCache<string, FirehoseOutcome>(deps.rememberEvents ?? 50_000);
  const inFlight = new Map<string, Promise<FirehoseOutcome>>();

  async function verify(request: FastifyRequest): Promise<void> {
    const raw = rawBodyOf(request);
    const header = request.headers['x-layers-signature'];
    const signature = Array.isArray(header) ? header.join(',') : header;
    const payload = (t: string) => Buffer.concat([Buffer.from(`${t}.`), raw]);
    let check = verifySignature(signature, await deps.secrets.current(), payload);
    if (!check.ok && check.reason === 'mismatch' && deps.secrets.refresh) {
      await deps.secrets.refresh();
      check = verifySignature(signature, await deps.secrets.current(), payload);
    }
    if (!check.ok) {
      request.log.warn({ reason: check.reason }, 'firehose delivery refused: bad signature');
      throw new ProblemError(401, 'unauthorized', `X-Layers-Signature: ${check.reason}`);
    }
    request.caller = 'layers-firehose';
  }

  async function handle(
    eventId: string,
    event: z.output<typeof eventSchema>,
    log: FastifyBaseLogger,
  ): Promise<FirehoseOutcome> {
    const orgId = event.data.organizationId;
    if (!orgId) {
      log.info({ eventId, type: event.type }, 'firehose event without organizationId acknowledged');
      return { eventId, forwarded: false, reason: 'no organizationId' };
    }
    const externalId = await deps.attribution.externalIdOf(orgId);
    if (!externalId) {
      log.warn(
        { eventId, type: event.type, orgId },
        'firehose event for an organization no customer owns: acknowledged, not forwarded',
      );
      return { eventId, forwarded: false, reason: 'unknown organization' };
    }
    const { organizationId: _org, ...data } = event.data;
    void _org;
    await deps.forwarder.forward({
      id: eventId,
      type: event.type,
      createdAt: event.createdAt,
      externalId,
      organizationId: orgId,
      data,
    });
    log.info({ eventId, type: event.type, orgId, externalId }, 'firehose event forwarded to the CRM');
    return { eventId, forwarded: true, externalId };
  }

  return async (app) => {
    app.post(
      '/layers/webhooks',
      {
        // Every child's events share this one caller: its own, larger budget (429s are retried by Layers).
        config: { auth: 'layers', rateLimit: { max: deps.ratePerMinute ?? 6_000, timeWindow: 60_000 } },
        preValidation: async (request) => verify(request),
        schema: {
          summary: 'Layers firehose receiver',
          description:
            'Verifies X-Layers-Signature, attributes data.organizationId to the customer and forwards the event to CRM_EVENTS_URL.',
          tags: ['layers'],
        },
      },
      async (request, reply) => {
        const parsed = eventSchema.safeParse(parseJsonBody(request, rawBodyOf(request)));
        if (!parsed.success) {
          throw new ProblemError(400, 'invalid-event', 'body: not a Layers event', [
            {
              field: parsed.error.issues[0]?.path.join('.') || '(body)',
              message: parsed.error.issues[0]?.message ?? 'invalid',
            },
          ]);
        }
        const header = request.headers['x-layers-event-id'];
        const eventId = (Array.isArray(header) ? header[0] : header) ?? parsed.data.id;
        if (eventId !== parsed.data.id) {
          throw new ProblemError(400, 'invalid-event', 'X-Layers-Event-Id: differs from the body id', [
            { field: 'X-Layers-Event-Id', message: 'differs from the body id' },
          ]);
        }
        const done = handled.get(eventId);
        if (done) return reply.code(200).send({ ...done, duplicate: true });
        let pending = inFlight.get(eventId);
        if (!pending) {
          pending = handle(eventId, parsed.data, request.log).finally(() => inFlight.delete(eventId));
          inFlight.set(eventId, pending);
        }
        let outcome: FirehoseOutcome;
        try {
          outcome = await pending;
        } catch (err) {
          request.log.warn(
            { eventId, err: { message: (err as Error).message } },
            'firehose event not handed on; Layers will retry',
          );
          throw new ProblemError(
            502,
            'crm-unavailable',
            `the event could not be handed on (${(err as Error).message}); retry later`,
          );
        }
        handled.set(eventId, outcome);
        return reply.code(200).send(outcome);
      },
    );
  };
}
