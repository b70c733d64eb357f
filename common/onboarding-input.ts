import { z } from 'zod';
import { requiredOr } from './input-errors';

// Shared by the CRM-facing client (validates before anything starts) and the workflow (validates again,
// because a workflow can be started by anything that reaches the namespace).

export const KNOWN_SCOPES = [
  'org:admin',
  'projects:read',
  'projects:write',
  'content:read',
  'content:write',
] as const;
export const DELEGABLE_SCOPES = KNOWN_SCOPES.filter((s) => s !== 'org:admin');
export const WEBHOOK_EVENT_TYPES = [
  'content.generated',
  'post.published',
  'job.completed',
  'test.ping',
] as const;
export const DEFAULT_KEY_SCOPES = ['content:read', 'content:write'];
/** Metadata keys the orchestrator writes itself on every child org (used to reconcile). */
export const RESERVED_METADATA_KEYS = ['externalId', 'onboardingWorkflowId'] as const;
/** No partner moves a billion credits to one customer in one call; a larger number is a typo. */
export const MAX_CREDITS = 1_000_000_000;

const credits = (what: string) =>
  z
    .number({ error: requiredOr(`${what} must be a number`) })
    .int(`${what} must be a whole number`)
    .max(MAX_CREDITS, `${what} must be at most ${MAX_CREDITS.toLocaleString('en-US')}`);

export const externalIdSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'must be 1-100 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

export const webhookUrlSchema = z
  .string({ error: requiredOr('must be a string') })
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute https URL' });
      return;
    }
    if (value.length > 2048) ctx.addIssue({ code: 'custom', message: 'must be at most 2048 characters' });
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && isLoopback(url.hostname)) return;
    ctx.addIssue({ code: 'custom', message: 'must use https (plain http only for localhost)' });
  });

const metadataSchema = z
  .record(
    z
      .string()
      .min(1, 'metadata keys must not be empty')
      .max(40, 'metadata keys must be at most 40 characters'),
    z
      .string({ error: 'metadata values must be strings' })
      .max(500, 'metadata values must be at most 500 characters'),
  )
  .superRefine((metadata, ctx) => {
    const keys = Object.keys(metadata);
    if (keys.length > 50 - RESERVED_METADATA_KEYS.length) {
      ctx.addIssue({
        code: 'custom',
        message: `at most ${50 - RESERVED_METADATA_KEYS.length} keys (Layers allows 50, the orchestrator uses ${RESERVED_METADATA_KEYS.length})`,
      });
    }
    for (const key of keys) {
      if ((RESERVED_METADATA_KEYS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is set by the orchestrator` });
      }
    }
  });

const timezoneSchema = z.string({ error: requiredOr() }).superRefine((tz, ctx) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${tz}" is not an IANA time zone (e.g. America/Los_Angeles)` });
  }
});

export const onboardingInputSchema = z
  .object(
    {
      customer: z.object(
        {
          externalId: externalIdSchema,
          name: z
            .string({ error: requiredOr('must be a string') })
            .trim()
            .min(1, 'must not be empty')
            .max(128, 'must be at most 128 characters'),
          metadata: metadataSchema.optional(),
          billingEmail: z.email('must be an email address').max(254).optional(),
        },
        { error: requiredOr() },
      ),
      apiKey: z
        .object({
          name: z
            .string()
            .trim()
            .min(1, 'must not be empty')
            .max(120, 'must be at most 120 characters')
            .optional(),
          scopes: z
            .array(z.string())
            .min(1, 'needs at least one scope')
            .max(64, 'at most 64 scopes')
            .superRefine((scopes, ctx) => {
              for (const scope of scopes) {
                if (scope === 'org:admin')
                  ctx.addIssue({
                    code: 'custom',
                    message: 'org:admin can never be delegated to a child key',
                  });
                else if (!(KNOWN_SCOPES as readonly string[]).includes(scope)) {
                  ctx.addIssue({
                    code: 'custom',
                    message: `unknown scope "${scope}" (known: ${DELEGABLE_SCOPES.join(', ')})`,
                  });
                }
              }
              if (new Set(scopes).size !== scopes.length)
                ctx.addIssue({ code: 'custom', message: 'lists a scope twice' });
            })
            .default(DEFAULT_KEY_SCOPES),
        })
        .default({ scopes: DEFAULT_KEY_SCOPES }),
      credits: credits('credits').positive('credits must be greater than 0'),
      creditConfig: z
        .object({
          monthlyCreditCap: credits('monthlyCreditCap')
            .min(0, 'monthlyCreditCap must be 0 or more')
            .optional(),
          refillThreshold: credits('refillThreshold').min(0, 'refillThreshold must be 0 or more').optional(),
          refillAmount: credits('refillAmount').positive('refillAmount must be greater than 0').optional(),
        })
        .strict()
        .superRefine((config, ctx) => {
          if ((config.refillThreshold === undefined) !== (config.refillAmount === undefined)) {
            ctx.addIssue({
              code: 'custom',
              path: [config.refillThreshold === undefined ? 'refillThreshold' : 'refillAmount'],
              message: 'auto-refill is both-or-neither: set refillThreshold and refillAmount together',
            });
          }
        })
        .optional(),
      firehose: z
        .object({
          url: webhookUrlSchema,
          events: z
            .array(
              z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }),
              { error: requiredOr() },
            )
            .min(1, 'needs at least one event type')
            .max(50, 'at most 50 event types')
            .refine((events) => new Set(events).size === events.length, 'lists an event type twice'),
        })
        .strict()
        .optional(),
      project: z
        .object({
          name: z
            .string({ error: requiredOr() })
            .trim()
            .min(1, 'must not be empty')
            .max(128, 'must be at most 128 characters'),
          timezone: timezoneSchema,
        })
        .strict()
        .optional(),
    },
    { error: requiredOr() },
  )
  .strict();

/** What the CRM sends (defaults optional). */
export type OnboardingRequest = z.input<typeof onboardingInputSchema>;
/** What the workflow runs on (defaults applied). */
export type OnboardingInput = z.output<typeof onboardingInputSchema>;

/** One line per problem, each naming the field: `credits: credits must be greater than 0`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.map(pathSegment).join('.') : '(input)';
    // A record key that breaks its rule: zod says "Invalid key in record"; the rule is in the nested issue.
    const message = issue.code === 'invalid_key' && issue.issues[0] ? issue.issues[0].message : issue.message;
    return `${field}: ${message}`;
  });
}

/** A path segment as people read it: plain names as they are; odd or long (hostile) keys quoted and shortened. */
function pathSegment(key: PropertyKey): string {
  const text = String(key);
  if (/^[A-Za-z0-9_-]{1,40}$/.test(text)) return text;
  return JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export function parseOnboardingInput(input: unknown): ParseResult<OnboardingInput> {
  const result = onboardingInputSchema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, errors: describeIssues(result.error) };
}
