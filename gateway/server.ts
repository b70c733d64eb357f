import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { registerCrmAuth, type CrmCredentials } from './auth';
import type { CustomerService } from './customers';
import { firehoseReceiver, type FirehoseDeps } from './firehose/receiver';
import { problemBody, problemErrorHandler, sendProblem } from './problem';
import { customerRoutes } from './routes/customers';
import { healthRoutes } from './routes/health';

export interface GatewayOptions {
  credentials: CrmCredentials;
  service: CustomerService;
  /** Absent: no CRM_EVENTS_URL, so /layers/webhooks is not served (nothing to hand events on to). */
  firehose?: FirehoseDeps;
  bodyLimit?: number;
  rateLimitPerMinute?: number;
  logger?: boolean | object;
}

/** The gateway as a Fastify instance (not listening): main.ts listens, tests use `listen({port: 0})`. */
export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problemBody(404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  // Bodies stay raw bytes until the caller is authenticated (auth.ts parses them afterwards).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Layers onboarding CRM gateway',
        version: '1',
        description:
          'Signed HTTP front door to the customer-onboarding orchestrator. Every /v1 request carries ' +
          '`X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.METHOD.path.body")>` or `Authorization: Bearer <token>`. ' +
          'Writes need `Idempotency-Key`. Errors are application/problem+json (RFC 9457).',
      },
      components: {
        securitySchemes: {
          signature: { type: 'apiKey', in: 'header', name: 'X-Signature' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ signature: [] }, { bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  registerCrmAuth(app, options.credentials);
  await app.register(rateLimit, {
    // After authentication, so the bucket is the proven caller, not an address a proxy may share.
    hook: 'preHandler',
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    keyGenerator: (request) => request.caller ?? `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new Error(
          `rate limit of ${context.max} requests per minute exceeded; retry after ${Math.ceil(context.ttl / 1000)} s`,
        ),
        { statusCode: 429 },
      ),
  });

  await app.register(healthRoutes(options.service));
  await app.register(customerRoutes(options.service));
  if (options.firehose) await app.register(firehoseReceiver(options.firehose));
  return app;
}
