import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { findKeyMaterial } from '../../common/key-material';
import {
  churnRequestSchema,
  parseLifecycleRequest,
  pauseRequestSchema,
  reactivateRequestSchema,
  resumeRequestSchema,
  type LifecycleRequestKind,
} from '../../common/lifecycle-input';
import { LIFECYCLE_STATES } from '../../common/lifecycle-messages';
import {
  describeIssues,
  externalIdSchema,
  onboardingInputSchema,
  parseOnboardingInput,
} from '../../common/onboarding-input';
import type { CustomerService } from '../customers';
import { idempotencyKeyOf } from '../idempotency';
import { invalid, problemSchema } from '../problem';

// /v1/customers: the CRM's verbs over HTTP. Bodies are the library's own schemas (one source for the
// workflow's validation, the request validation and the OpenAPI document), plus an optional `eventId`.

export const MAX_WAIT_SECONDS = 60;

/** `Prefer: wait=N` (RFC 7240 / 8144): how long the caller is willing to wait, at most 60 s. */
export function preferredWait(request: FastifyRequest): number {
  const header = request.headers.prefer;
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(value);
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : 0;
}

const params = z.object({ externalId: externalIdSchema });
const writeHeaders = z
  .object({
    'idempotency-key': z.string().optional().meta({
      description:
        'Required on every write unless the body carries "eventId". Same key and body → same answer; same key, other body → 409.',
    }),
    prefer: z
      .string()
      .optional()
      .meta({ description: '`wait=N` (N ≤ 60): wait up to N seconds for the outcome and answer 200' }),
  })
  .loose();
const eventId = z.string().optional().meta({
  description: "The CRM's event id; used as the idempotency key when no Idempotency-Key header is sent",
});

const onboardingBody = onboardingInputSchema
  .extend({
    customer: onboardingInputSchema.shape.customer.extend({
      externalId: externalIdSchema
        .optional()
        .meta({ description: 'Defaults to the path; must equal it when given' }),
    }),
    eventId,
  })
  .meta({ id: 'OnboardingRequest' });

const onboardingAccepted = z
  .object({
    externalId: z.string(),
    customerWorkflowId: z.string(),
    customerRunId: z.string(),
    onboardingWorkflowId: z.string(),
    requestHash: z.string(),
    location: z.string(),
    outcome: z
      .object({
        state: z.enum(['active', 'failed']),
        result: z.record(z.string(), z.unknown()).optional(),
        error: z.string().optional(),
      })
      .optional(),
  })
  .meta({ id: 'OnboardingAccepted' });

const lifecycleAccepted = z
  .object({
    externalId: z.string(),
    kind: z.string(),
    eventId: z.string(),
    customerWorkflowId: z.string(),
    location: z.string(),
    status: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: "The customer's state once the request was applied (with Prefer: wait)" }),
  })
  .meta({ id: 'LifecycleAccepted' });

const customerView = z
  .record(z.string(), z.unknown())
  .meta({ id: 'Customer', description: 'State, current step, Layers org id, last error and Web UI links' });
const errors = {
  400: problemSchema,
  401: problemSchema,
  404: problemSchema,
  409: problemSchema,
  413: problemSchema,
  422: problemSchema,
  429: problemSchema,
};

const LIFECYCLE_BODIES = {
  pause: pauseRequestSchema.extend({ eventId }),
  resume: resumeRequestSchema.extend({ eventId }),
  churn: churnRequestSchema.extend({ eventId }),
} as const;

export function customerRoutes(service: CustomerService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/v1/customers/:externalId/onboarding',
      {
        schema: {
          summary: 'Onboard a customer',
          description:
            'Starts (or finds) the customer workflow. 202 with Location; with `Prefer: wait=N`, 200 once the onboarding finished.',
          params,
          headers: writeHeaders,
          body: onboardingBody,
          response: { 200: onboardingAccepted, 202: onboardingAccepted, ...errors },
        },
      },
      async (request, reply) => {
        const { eventId: bodyEventId, ...body } = request.body;
        const key = idempotencyKeyOf(request, bodyEventId);
        const { externalId } = request.params;
        if (body.customer.externalId !== undefined && body.customer.externalId !== externalId) {
          throw invalid([`customer.externalId: differs from the externalId in the path (${externalId})`]);
        }
        const parsed = parseOnboardingInput({ ...body, customer: { ...body.customer, externalId } });
        if (!parsed.ok) throw invalid(parsed.errors);
        const secrets = findKeyMaterial(parsed.value);
        if (secrets.length)
          throw invalid(
            secrets.map(
              (field) => `${field}: looks like a Layers secret; secrets never go into workflow input`,
            ),
          );
        const { accepted, failed } = await service.onboard(parsed.value, key);
        reply.header('location', accepted.location);
        if (failed)
          return reply.code(200).send({ ...accepted, outcome: { state: 'failed' as const, error: failed } });
        const wait = preferredWait(request);
        if (wait > 0) {
          reply.header('preference-applied', `wait=${wait}`);
          const outcome = await service.waitForOnboarding(externalId, wait);
          if (outcome) return reply.code(200).send({ ...accepted, outcome: outcome as never });
        }
        return reply.code(202).send(accepted);
      },
    );

    for (const kind of ['pause', 'resume', 'churn'] as const satisfies readonly LifecycleRequestKind[]) {
      app.post(
        `/v1/customers/:externalId/${kind}`,
        {
          schema: {
            summary: `${kind[0]!.toUpperCase()}${kind.slice(1)} a customer`,
            description: `202 once the ${kind} request is accepted by the customer workflow; with \`Prefer: wait=N\`, 200 with the state once it was applied.`,
            params,
            headers: writeHeaders,
            body: LIFECYCLE_BODIES[kind],
            response: { 200: lifecycleAccepted, 202: lifecycleAccepted, ...errors },
          },
        },
        async (request, reply) => {
          const body = request.body as { eventId?: string };
          const key = idempotencyKeyOf(request, body.eventId);
          const parsed = parseLifecycleRequest(kind, { ...body, eventId: key }, Date.now());
          if (!parsed.ok) throw invalid(parsed.errors);
          const wait = preferredWait(request);
          if (wait > 0) reply.header('preference-applied', `wait=${wait}`);
          const { accepted, status } = await service.lifecycle(
            kind,
            request.params.externalId,
            parsed.value,
            wait,
          );
          reply.header('location', accepted.location);
          return status
            ? reply.code(200).send({ ...accepted, status: status as never })
            : reply.code(202).send(accepted);
        },
      );
    }

    app.post(
      '/v1/customers/:externalId/reactivate',
      {
        schema: {
          summary: 'Cancel a scheduled churn',
          description:
            '202 once the reactivate signal is recorded (it cancels a churn whose effectiveAt has not come yet).',
          params,
          headers: writeHeaders,
          body: reactivateRequestSchema.extend({ eventId }),
          response: { 202: lifecycleAccepted, ...errors },
        },
      },
      async (request, reply) => {
        const key = idempotencyKeyOf(request, request.body.eventId);
        const parsed = reactivateRequestSchema.safeParse({ ...request.body, eventId: key });
        if (!parsed.success) throw invalid(describeIssues(parsed.error));
        const accepted = await service.reactivate(request.params.externalId, parsed.data);
        return reply.code(202).header('location', accepted.location).send(accepted);
      },
    );

    app.get(
      '/v1/customers/:externalId',
      { schema: { summary: "A customer's state", params, response: { 200: customerView, ...errors } } },
      async (request) => (await service.customer(request.params.externalId)) as never,
    );

    app.get(
      '/v1/customers',
      {
        schema: {
          summary: 'Customers by lifecycle state (Temporal visibility)',
          querystring: z.object({
            state: z.enum(LIFECYCLE_STATES).optional(),
            cursor: z.string().max(4096).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(50),
          }),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  externalId: z.string(),
                  state: z.string().optional(),
                  orgId: z.string().optional(),
                  workflowStatus: z.string(),
                  location: z.string(),
                }),
              ),
              nextCursor: z.string().nullable(),
            }),
            ...errors,
          },
        },
      },
      async (request) => service.list(request.query),
    );
  };
}
