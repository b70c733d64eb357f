import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { CrmEventsConfig } from '../activities/crm-events';
import type { SecretSinkConfig } from '../activities/secret-sinks';
import { normalizeEvents, type PartnerFirehoseConfig } from '../activities/firehose';
import { WEBHOOK_EVENT_TYPES } from '../common/onboarding-input';
import { checkWebhookUrl, isLocalApiOrigin, type WebhookUrlPolicy } from '../common/webhook-url';
import { packageVersion } from '../common/package-version';
import { DEFAULT_DEPLOYMENT_NAME, type WorkerVersioning } from './versioning';
import {
  ConfigError,
  optionalString,
  parse,
  readFileVar,
  loadTemporalConfig,
  type Env,
  type TemporalConfig,
} from '../common/connection';

const origin = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `must be an absolute URL like https://api.layers.com (got "${value}")`,
      });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `must use https (got ${url.protocol})` });
    } else if (url.pathname !== '/' || url.search || url.hash) {
      ctx.addIssue({
        code: 'custom',
        message: `must be the origin only, the client adds /v1 (got "${value}")`,
      });
    } else if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: `plain http is only allowed for localhost (got "${value}")` });
    }
  })
  .transform((value) => new URL(value).origin);

const layersSchema = z.object({
  LAYERS_API_URL: origin.default('http://127.0.0.1:4010'),
  LAYERS_PARENT_KEY: optionalString,
  LAYERS_PARENT_KEY_FILE: optionalString,
  LAYERS_SECRET_SINK_DIR: optionalString,
  LAYERS_FIREHOSE_URL: optionalString,
  LAYERS_FIREHOSE_EVENTS: optionalString,
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z
    .string()
    .trim()
    .refine(
      (value) => isIP(value.replace(/^\[(.*)\]$/, '$1')) !== 0,
      'must be an IP address to bind, e.g. 127.0.0.1 (default) or 0.0.0.0 for every interface',
    )
    .transform((value) => value.replace(/^\[(.*)\]$/, '$1'))
    .optional(),
  LAYERS_RATE_LIMITS: z
    .string()
    .trim()
    .regex(
      /^(read|write|longRunning)=\d+(,(read|write|longRunning)=\d+)*$/,
      'must look like read=6000,write=3000 (per minute)',
    )
    .optional(),
  LAYERS_RATE_HEADROOM: z.coerce.number().gt(0, 'must be above 0').max(1, 'must be at most 1').default(0.97),
  LAYERS_SECRET_SINK: z.enum(['file', 'http'], { error: 'must be "file" or "http"' }).default('file'),
  LAYERS_SECRET_SINK_URL: optionalString,
  LAYERS_SECRET_SINK_HMAC_KEY: optionalString,
  LAYERS_SECRET_SINK_HMAC_KEY_FILE: optionalString,
  CRM_EVENTS_URL: optionalString,
  CRM_EVENTS_SIGNING_SECRET: optionalString,
  GATEWAY_SIGNING_SECRETS: optionalString,
});

const positiveInt = z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').optional();

const tuningSchema = z.object({
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int('must be a whole number')
    .min(0, 'must be 0 (no cache) or more')
    .optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt,
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt,
});

/**
 * Workflows kept in the worker's sticky cache. Every customer keeps a customerLifecycle workflow open for
 * good, so the SDK's heap-sized default (2,310 on a 4 GB heap) fills with idle customers at ~2.2 MB of RSS
 * each (1,000 onboarded: worker RSS peak 2.7 GB) and evicts none of them before 2,310. 500 is five times
 * what an import at its default concurrency 50 keeps active (a customer and its onboarding each) and cost
 * no throughput (1,000 onboardings: 3.57 and 3.91/s vs 3.46/s); 100 evicted active workflows (worker CPU
 * +13 %). At 1,000 customers RSS lags the cache (V8 frees lazily): the cap matters beyond ~2,000.
 * bench/RESULTS.md.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/** Worker slot settings (WORKER_MAX_*); unset ones keep the defaults chosen in bench/RESULTS.md. */
export interface WorkerTuning {
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
}

export function loadWorkerTuning(env: Env = process.env): WorkerTuning {
  const parsed = parse(tuningSchema, env);
  return {
    maxCachedWorkflows: parsed.WORKER_MAX_CACHED_WORKFLOWS ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    ...(parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS
      ? { maxConcurrentWorkflowTaskExecutions: parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS }
      : {}),
    ...(parsed.WORKER_MAX_CONCURRENT_ACTIVITIES
      ? { maxConcurrentActivityTaskExecutions: parsed.WORKER_MAX_CONCURRENT_ACTIVITIES }
      : {}),
  };
}

export interface LayersConfig {
  apiUrl: string;
  parentKey: string;
  secretSinkDir: string;
  /** Where shown-once secrets go (LAYERS_SECRET_SINK): file (default, in secretSinkDir) or http. */
  secretSink: SecretSinkConfig;
  metricsPort?: number;
  /** The address the metrics endpoint binds (METRICS_HOST, default 127.0.0.1). */
  metricsHost: string;
  /** Per-minute budgets overriding the tier whoami names (custom contracts). */
  rateLimits?: { read?: number; write?: number; longRunning?: number };
  rateHeadroom: number;
  /** The partner's own event receiver (LAYERS_FIREHOSE_URL, LAYERS_FIREHOSE_EVENTS): one `all_children` endpoint. */
  firehose?: PartnerFirehoseConfig;
  /** Local mode when LAYERS_API_URL is a loopback http origin (the emulator): http webhook receivers allowed. */
  webhookUrlPolicy: WebhookUrlPolicy;
  /** Lifecycle events to the partner's CRM (CRM_EVENTS_URL, CRM_EVENTS_SIGNING_SECRET); absent: none are sent. */
  crmEvents?: CrmEventsConfig;
}

/**
 * Signed like the gateway's forwarded firehose: CRM_EVENTS_SIGNING_SECRET, else the first of
 * GATEWAY_SIGNING_SECRETS (the gateway's own default), so one CRM secret serves both senders.
 */
function loadCrmEventsConfig(parsed: z.infer<typeof layersSchema>): CrmEventsConfig | undefined {
  const secret = parsed.CRM_EVENTS_SIGNING_SECRET ?? parsed.GATEWAY_SIGNING_SECRETS?.split(',')[0]?.trim();
  if (!parsed.CRM_EVENTS_URL) return undefined;
  let url: URL;
  try {
    url = new URL(parsed.CRM_EVENTS_URL);
  } catch {
    throw new ConfigError(
      'CRM_EVENTS_URL: must be the absolute URL of the CRM endpoint that receives events',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(`CRM_EVENTS_URL: must use https (got ${url.protocol})`);
  if (url.username || url.password)
    throw new ConfigError('CRM_EVENTS_URL: must not carry credentials (events are signed instead)');
  if (!secret)
    throw new ConfigError(
      'CRM_EVENTS_SIGNING_SECRET: CRM_EVENTS_URL needs a secret to sign with (or set GATEWAY_SIGNING_SECRETS)',
    );
  return { url: url.toString(), signingSecret: secret };
}

export const DEFAULT_FIREHOSE_EVENTS = ['content.generated', 'post.published'];

function loadFirehoseConfig(
  parsed: z.infer<typeof layersSchema>,
  policy: WebhookUrlPolicy,
): PartnerFirehoseConfig | undefined {
  if (!parsed.LAYERS_FIREHOSE_URL) {
    if (parsed.LAYERS_FIREHOSE_EVENTS)
      throw new ConfigError(
        'LAYERS_FIREHOSE_EVENTS: set LAYERS_FIREHOSE_URL too (the receiver the events go to)',
      );
    return undefined;
  }
  // The partner's receiver is the operator's choice: against the real API the customer rules hold (Layers
  // delivers over the internet); against the emulator a local http receiver is fine.
  let target: URL;
  try {
    target = new URL(parsed.LAYERS_FIREHOSE_URL);
  } catch {
    throw new ConfigError('LAYERS_FIREHOSE_URL: must be an absolute https URL');
  }
  if (target.username || target.password)
    throw new ConfigError('LAYERS_FIREHOSE_URL: must not carry credentials (user:password@)');
  if (!policy.localMode) {
    const urlError = checkWebhookUrl(parsed.LAYERS_FIREHOSE_URL, 'LAYERS_FIREHOSE_URL', policy);
    if (urlError) throw new ConfigError(urlError);
  } else if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new ConfigError('LAYERS_FIREHOSE_URL: must be an http(s) URL');
  }
  const events = (parsed.LAYERS_FIREHOSE_EVENTS ?? DEFAULT_FIREHOSE_EVENTS.join(','))
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const unknown = events.filter((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
  if (!events.length || unknown.length) {
    throw new ConfigError(
      `LAYERS_FIREHOSE_EVENTS: must be a comma-separated list of ${WEBHOOK_EVENT_TYPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
    );
  }
  return { url: parsed.LAYERS_FIREHOSE_URL, events: normalizeEvents(events) };
}

export interface WorkerConfig {
  temporal: TemporalConfig;
  layers: LayersConfig;
}

function loadSecretSinkConfig(parsed: z.infer<typeof layersSchema>, dir: string): SecretSinkConfig {
  if (parsed.LAYERS_SECRET_SINK === 'file') return { kind: 'file', dir };
  const url = parsed.LAYERS_SECRET_SINK_URL;
  if (!url) throw new ConfigError('LAYERS_SECRET_SINK_URL: required when LAYERS_SECRET_SINK=http');
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new ConfigError('LAYERS_SECRET_SINK_URL: must be an absolute https URL');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname);
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && loopback)) {
    throw new ConfigError('LAYERS_SECRET_SINK_URL: must use https (plain http only for localhost)');
  }
  if (target.username || target.password)
    throw new ConfigError(
      'LAYERS_SECRET_SINK_URL: must not carry credentials (the HMAC signature authenticates)',
    );
  if (parsed.LAYERS_SECRET_SINK_HMAC_KEY && parsed.LAYERS_SECRET_SINK_HMAC_KEY_FILE) {
    throw new ConfigError(
      'LAYERS_SECRET_SINK_HMAC_KEY_FILE: set either LAYERS_SECRET_SINK_HMAC_KEY or LAYERS_SECRET_SINK_HMAC_KEY_FILE, not both',
    );
  }
  const hmacKey = parsed.LAYERS_SECRET_SINK_HMAC_KEY_FILE
    ? readFileVar('LAYERS_SECRET_SINK_HMAC_KEY_FILE', parsed.LAYERS_SECRET_SINK_HMAC_KEY_FILE)
        .toString('utf8')
        .trim()
    : parsed.LAYERS_SECRET_SINK_HMAC_KEY;
  const variable = parsed.LAYERS_SECRET_SINK_HMAC_KEY_FILE
    ? 'LAYERS_SECRET_SINK_HMAC_KEY_FILE'
    : 'LAYERS_SECRET_SINK_HMAC_KEY';
  if (!hmacKey)
    throw new ConfigError(
      'LAYERS_SECRET_SINK_HMAC_KEY: required (or LAYERS_SECRET_SINK_HMAC_KEY_FILE) when LAYERS_SECRET_SINK=http',
    );
  if (hmacKey.length < 32)
    throw new ConfigError(`${variable}: must be at least 32 characters (e.g. \`openssl rand -hex 32\`)`);
  return { kind: 'http', url, hmacKey };
}

export function loadLayersConfig(env: Env = process.env): LayersConfig {
  const parsed = parse(layersSchema, env);
  let parentKey = parsed.LAYERS_PARENT_KEY;
  if (parsed.LAYERS_PARENT_KEY && parsed.LAYERS_PARENT_KEY_FILE) {
    throw new ConfigError(
      'LAYERS_PARENT_KEY_FILE: set either LAYERS_PARENT_KEY or LAYERS_PARENT_KEY_FILE, not both',
    );
  }
  if (parsed.LAYERS_PARENT_KEY_FILE)
    parentKey = readFileVar('LAYERS_PARENT_KEY_FILE', parsed.LAYERS_PARENT_KEY_FILE).toString('utf8').trim();
  if (!parentKey)
    throw new ConfigError(
      'LAYERS_PARENT_KEY: required (or LAYERS_PARENT_KEY_FILE): the partner org:admin key',
    );
  if (!/^lp_(live|test)_\S+$/.test(parentKey)) {
    // Never echo the value: it is (meant to be) a secret.
    throw new ConfigError(
      'LAYERS_PARENT_KEY: does not look like a Layers key (expected lp_live_… or lp_test_…)',
    );
  }
  const webhookUrlPolicy: WebhookUrlPolicy = { localMode: isLocalApiOrigin(parsed.LAYERS_API_URL) };
  const secretSinkDir = path.resolve(parsed.LAYERS_SECRET_SINK_DIR ?? path.join('.data', 'secrets'));
  return {
    apiUrl: parsed.LAYERS_API_URL,
    parentKey,
    secretSinkDir,
    secretSink: loadSecretSinkConfig(parsed, secretSinkDir),
    metricsPort: parsed.METRICS_PORT,
    metricsHost: parsed.METRICS_HOST ?? '127.0.0.1',
    rateLimits: parsed.LAYERS_RATE_LIMITS
      ? Object.fromEntries(
          parsed.LAYERS_RATE_LIMITS.split(',').map((pair) => [
            pair.split('=')[0]!,
            Number(pair.split('=')[1]),
          ]),
        )
      : undefined,
    rateHeadroom: parsed.LAYERS_RATE_HEADROOM,
    firehose: loadFirehoseConfig(parsed, webhookUrlPolicy),
    webhookUrlPolicy,
    crmEvents: loadCrmEventsConfig(parsed),
  };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  return { temporal: loadTemporalConfig(env), layers: loadLayersConfig(env) };
}

// Names the server accepts: no '.' in a deployment name (it separates name and build id in
// `name.buildId`), no '__' prefix (reserved, e.g. __unversioned__), nothing blank.
const versionPart = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `must not be empty`)
    .max(255, 'must be at most 255 characters')
    .regex(/^\S+$/, `must be one word (no spaces) naming the ${what}`)
    .refine((v) => !v.startsWith('__'), 'must not start with "__" (reserved by Temporal)');

const versioningSchema = z.object({
  TEMPORAL_WORKER_VERSIONING: z
    .enum(['on', 'off'], { error: 'must be "on" (default) or "off" (a server without worker deployments)' })
    .default('on'),
  TEMPORAL_WORKER_DEPLOYMENT_NAME: versionPart('worker deployment')
    .refine((v) => !v.includes('.'), 'must not contain "."')
    .optional(),
  TEMPORAL_WORKER_BUILD_ID: versionPart('build').optional(),
  TEMPORAL_WORKER_SET_CURRENT: z
    .enum(['if-none', 'always', 'never'], { error: 'must be "if-none" (default), "always" or "never"' })
    .default('if-none'),
});

/**
 * Worker Deployment versioning (README "Shipping a new worker"): on unless TEMPORAL_WORKER_VERSIONING=off;
 * the build id is the package version unless TEMPORAL_WORKER_BUILD_ID says otherwise (a git sha, when
 * workflow code changes without a version bump — two different builds must never share an id).
 */
export function loadWorkerVersioning(env: Env = process.env): WorkerVersioning | undefined {
  const parsed = parse(versioningSchema, env);
  if (parsed.TEMPORAL_WORKER_VERSIONING === 'off') return undefined;
  return {
    deploymentName: parsed.TEMPORAL_WORKER_DEPLOYMENT_NAME ?? DEFAULT_DEPLOYMENT_NAME,
    buildId: parsed.TEMPORAL_WORKER_BUILD_ID ?? packageVersion(),
    setCurrent: parsed.TEMPORAL_WORKER_SET_CURRENT,
  };
}
