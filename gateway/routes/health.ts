import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CustomerService } from '../customers';
import { problemBody, sendProblem } from '../problem';

export function healthRoutes(service: CustomerService): FastifyPluginAsyncZod {
  return async (app) => {
    // The only answer to an unauthenticated caller: the process is up.
    app.get(
      '/healthz',
      {
        config: { auth: 'none' },
        schema: {
          summary: 'The process is up',
          security: [],
          response: { 200: z.object({ ok: z.literal(true) }) },
        },
      },
      async () => ({
        ok: true as const,
      }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Temporal is reachable',
          response: { 200: z.object({ ok: z.literal(true), temporal: z.literal('reachable') }) },
        },
      },
      async (_request, reply) => {
        if (await service.ready()) return { ok: true as const, temporal: 'reachable' as const };
        return sendProblem(
          reply,
          problemBody(503, 'temporal-unreachable', 'the Temporal frontend does not answer'),
        );
      },
    );

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}
