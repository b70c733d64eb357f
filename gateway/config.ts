import { z } from 'zod';
import {
  ConfigError,
  loadTemporalConfig,
  optionalString,
  parse,
  type Env,
  type TemporalConfig,
} from '../common/connection';

// Everything the gateway reads from its environment, checked once at start-up: a bad value stops the
// process with one line naming the variable (like the worker).

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a port number')
  .min(0)
  .max(65535);

const gatewaySchema = z.object({
  GATEWAY_PORT: port.default(8080),
  GATEWAY_HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  GATEWAY_SIGNING_SECRETS: list,
  GATEWAY_TOKENS: list,
  GATEWAY_BODY_LIMIT: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int()
    .positive()
    .default(64 * 1024),
  GATEWAY_RATE_LIMIT: z.coerce.number({ error: 'must be requests per minute' }).int().positive().default(600),
  TEMPORAL_UI_URL: z
    .url({ error: 'must be a URL, e.g. http://127.0.0.1:8233' })
    .default('http://127.0.0.1:8233'),
  CRM_EVENTS_URL: optionalString.pipe(
    z.url({ error: 'must be the CRM URL that receives events' }).optional(),
  ),
  CRM_EVENTS_SIGNING_SECRET: optionalString,
  GATEWAY_FIREHOSE_SECRETS: list,
  GATEWAY_FIREHOSE_SECRETS_DIR: optionalString,
  LAYERS_SECRET_SINK_DIR: optionalString,
});

export interface GatewayConfig {
  port: number;
  host: string;
  /** Any of these verifies an `X-Signature` (rotation: add the new one, switch the CRM, drop the old). */
  signingSecrets: string[];
  bearerTokens: string[];
  bodyLimit: number;
  /** Requests per minute per authenticated caller. */
  rateLimitPerMinute: number;
  temporalUiUrl: string;
  temporal: TemporalConfig;
  crmEvents?: { url: string; signingSecret: string };
  firehose: { secretsOverride: string[]; secretsDir: string };
}

const MIN_SECRET_LENGTH = 16;

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const parsed = parse(gatewaySchema, env);
  for (const [name, values] of [
    ['GATEWAY_SIGNING_SECRETS', parsed.GATEWAY_SIGNING_SECRETS],
    ['GATEWAY_TOKENS', parsed.GATEWAY_TOKENS],
  ] as const) {
    if (values.some((v) => v.length < MIN_SECRET_LENGTH))
      throw new ConfigError(`${name}: every entry needs at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (parsed.GATEWAY_SIGNING_SECRETS.length === 0 && parsed.GATEWAY_TOKENS.length === 0) {
    throw new ConfigError(
      'GATEWAY_SIGNING_SECRETS: set it (or GATEWAY_TOKENS): the gateway answers no one unauthenticated',
    );
  }
  // Forwarded events are signed like the requests the gateway accepts; a separate secret lets the CRM
  // keep its inbound and outbound secrets apart, the first gateway secret is the simple default.
  const crmSecret = parsed.CRM_EVENTS_SIGNING_SECRET ?? parsed.GATEWAY_SIGNING_SECRETS[0];
  if (parsed.CRM_EVENTS_URL && !crmSecret) {
    throw new ConfigError(
      'CRM_EVENTS_SIGNING_SECRET: CRM_EVENTS_URL needs a secret to sign with (or set GATEWAY_SIGNING_SECRETS)',
    );
  }
  return {
    port: parsed.GATEWAY_PORT,
    host: parsed.GATEWAY_HOST,
    signingSecrets: parsed.GATEWAY_SIGNING_SECRETS,
    bearerTokens: parsed.GATEWAY_TOKENS,
    bodyLimit: parsed.GATEWAY_BODY_LIMIT,
    rateLimitPerMinute: parsed.GATEWAY_RATE_LIMIT,
    temporalUiUrl: parsed.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    temporal: loadTemporalConfig(env),
    crmEvents:
      parsed.CRM_EVENTS_URL && crmSecret
        ? { url: parsed.CRM_EVENTS_URL, signingSecret: crmSecret }
        : undefined,
    firehose: {
      secretsOverride: parsed.GATEWAY_FIREHOSE_SECRETS,
      secretsDir: parsed.GATEWAY_FIREHOSE_SECRETS_DIR ?? parsed.LAYERS_SECRET_SINK_DIR ?? '.data/secrets',
    },
  };
}
