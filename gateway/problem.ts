import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

// Every error the gateway answers is RFC 9457 `application/problem+json`, naming the offending field
// where there is one, so a CRM's logs say what to fix without reading the gateway's.

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** The first offending field (also in `errors`). */
  field?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    field: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly errors: FieldProblem[] = [],
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/** "customer.name: must not be empty" (the project's validation lines) → {field, message}. */
export function fieldProblems(lines: string[]): FieldProblem[] {
  return lines.map((line) => {
    const colon = line.indexOf(': ');
    return colon > 0
      ? { field: line.slice(0, colon), message: line.slice(colon + 2) }
      : { field: '(input)', message: line };
  });
}

export function invalid(lines: string[], status = 422): ProblemError {
  const errors = fieldProblems(lines);
  return new ProblemError(
    status,
    'invalid-request',
    errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  );
}

export function problemBody(
  status: number,
  slug: string,
  detail: string,
  instance?: string,
  errors: FieldProblem[] = [],
  extensions: Record<string, unknown> = {},
): ProblemBody {
  return {
    type: `urn:layers-onboarding:problem:${slug}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(instance ? { instance } : {}),
    ...(errors.length ? { field: errors[0]!.field, errors } : {}),
    ...extensions,
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(JSON.stringify(body));
}

/** The one error handler: known errors become their problem, anything else a 500 that leaks nothing. */
export function problemErrorHandler(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const instance = request.url.split('?')[0];
  if (error instanceof ProblemError) {
    return sendProblem(
      reply,
      problemBody(error.status, error.slug, error.message, instance, error.errors, error.extensions),
    );
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? 'body';
    const errors = error.validation.map((issue) => ({
      field: issue.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.') || `(${where})`,
      message: issue.message ?? 'invalid',
    }));
    const status = where === 'body' ? 422 : 400;
    return sendProblem(
      reply,
      problemBody(
        status,
        'invalid-request',
        errors.map((e) => `${e.field}: ${e.message}`).join('; '),
        instance,
        errors,
      ),
    );
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return sendProblem(
      reply,
      problemBody(413, 'body-too-large', 'the request body is larger than this gateway accepts', instance),
    );
  }
  if (fastifyError.statusCode === 429) {
    return sendProblem(reply, problemBody(429, 'rate-limited', error.message, instance));
  }
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return sendProblem(reply, problemBody(fastifyError.statusCode, 'bad-request', error.message, instance));
  }
  request.log.error({ err: { name: error.name, message: error.message } }, 'request failed');
  return sendProblem(
    reply,
    problemBody(
      500,
      'internal',
      'the gateway could not complete the request; it is safe to retry with the same Idempotency-Key',
      instance,
    ),
  );
}
