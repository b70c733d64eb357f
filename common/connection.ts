import { readFileSync } from 'node:fs';
import { loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './ids';

// How every process of this project (worker, client, CLI, gateway) finds Temporal. The settings are read
// by @temporalio/envconfig exactly as the `temporal` CLI reads them — TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_GRPC_META_*, and a `temporal.toml` profile (TEMPORAL_CONFIG_FILE,
// TEMPORAL_PROFILE) — so one profile serves the CLI and this project. The names this project used before
// (TEMPORAL_TLS_CERT_PATH, …) stay accepted as aliases; TEMPORAL_TASK_QUEUE is ours.

/** A configuration problem, reported as one line that names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

export const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const hostPort = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/,
    'must be host:port, e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233',
  );

/** This project's earlier names → the names Temporal's tools read. Both work; the same value under both is fine. */
export const TEMPORAL_ENV_ALIASES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  /** `false`: TLS explicitly off (TEMPORAL_TLS=false or `tls.disabled` in the profile). */
  tls?:
    | {
        clientCertPair?: { crt: Buffer; key: Buffer };
        serverRootCACertificate?: Buffer;
        serverNameOverride?: string;
      }
    | false;
  /** gRPC headers (TEMPORAL_GRPC_META_*, `grpc_meta` in the profile). */
  metadata?: Record<string, string>;
  /** Where the settings came from, for the start-up log line (never a secret). */
  profile?: string;
}

export function parse<T extends z.ZodTypeAny>(schema: T, env: Env): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  return result.data;
}

export function readFileVar(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The environment with empty values dropped and the aliases mapped to Temporal's names (a conflict is an error). */
function canonicalEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value.trim() !== '') out[key] = value.trim();
  for (const [alias, name] of Object.entries(TEMPORAL_ENV_ALIASES)) {
    const aliased = out[alias];
    if (aliased === undefined) continue;
    if (out[name] !== undefined && out[name] !== aliased)
      throw new ConfigError(`${alias}: conflicts with ${name}; set one of them`);
    out[name] = aliased;
  }
  return out;
}

/** Which variable (or profile key) set a TLS file, so an error can name it. */
function tlsSourceName(
  env: Record<string, string>,
  rawEnv: Env,
  name: string,
  tomlKey: string,
  profile: string,
): string {
  const alias = Object.keys(TEMPORAL_ENV_ALIASES).find(
    (a) => TEMPORAL_ENV_ALIASES[a] === name && rawEnv[a]?.trim(),
  );
  if (alias) return alias;
  if (env[name] !== undefined || env[name.replace(/_PATH$/, '_DATA')] !== undefined) return name;
  return `${env.TEMPORAL_CONFIG_FILE ?? 'temporal.toml'} [profile.${profile}.tls] ${tomlKey}`;
}

function loadProfile(env: Record<string, string>): ClientConfigProfile {
  try {
    return loadClientConfigProfile({ overrideEnvVars: env });
  } catch (err) {
    const e = err as Error & { line?: number; column?: number };
    if (/Profile '.*' not found/.test(e.message)) throw new ConfigError(`TEMPORAL_PROFILE: ${e.message}`);
    const file = env.TEMPORAL_CONFIG_FILE ?? 'the default temporal.toml';
    // The TOML parser quotes the lines around a syntax error, and a profile holds api_key: keep only the position.
    if (e.name === 'TomlError' || e.line !== undefined) {
      throw new ConfigError(
        `TEMPORAL_CONFIG_FILE: ${file} is not valid TOML (line ${e.line ?? '?'}, column ${e.column ?? '?'})`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `TEMPORAL_CONFIG_FILE: cannot read the Temporal profile file ${file}${code ? ` (${code})` : `: ${e.message}`}`,
    );
  }
}

function dataOf(
  source: { path: string } | { data: string | Uint8Array } | undefined,
  name: () => string,
): Buffer | undefined {
  if (source === undefined) return undefined;
  if ('path' in source) return readFileVar(name(), source.path);
  return Buffer.from(source.data);
}

export function loadTemporalConfig(rawEnv: Env = process.env): TemporalConfig {
  const env = canonicalEnv(rawEnv);
  const profileName = env.TEMPORAL_PROFILE ?? 'default';
  const profile = loadProfile(env);
  const parsed = parse(
    z.object({
      TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
      TEMPORAL_NAMESPACE: z.string().trim().min(1, 'must not be empty').default('default'),
      TEMPORAL_TASK_QUEUE: z.string().trim().min(1, 'must not be empty').default(DEFAULT_TASK_QUEUE),
    }),
    {
      TEMPORAL_ADDRESS: profile.address,
      TEMPORAL_NAMESPACE: profile.namespace,
      TEMPORAL_TASK_QUEUE: rawEnv.TEMPORAL_TASK_QUEUE,
    },
  );
  const config: TemporalConfig = {
    address: parsed.TEMPORAL_ADDRESS,
    namespace: parsed.TEMPORAL_NAMESPACE,
    taskQueue: parsed.TEMPORAL_TASK_QUEUE,
    ...(profile.apiKey ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {}),
    ...(env.TEMPORAL_CONFIG_FILE || env.TEMPORAL_PROFILE ? { profile: `${profileName}` } : {}),
  };
  const tls = profile.tls;
  if (tls?.disabled) {
    config.tls = false;
  } else if (tls) {
    const name = (envName: string, tomlKey: string) => () =>
      tlsSourceName(env, rawEnv, envName, tomlKey, profileName);
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
      const missing = tls.clientCert ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
      throw new ConfigError(
        `${missing}: mTLS needs both a client certificate and its key (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)`,
      );
    }
    const crt = dataOf(tls.clientCert, name('TEMPORAL_TLS_CLIENT_CERT_PATH', 'client_cert_path'));
    const key = dataOf(tls.clientKey, name('TEMPORAL_TLS_CLIENT_KEY_PATH', 'client_key_path'));
    const ca = dataOf(tls.serverCACert, name('TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'server_ca_cert_path'));
    config.tls = {
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    };
  }
  return config;
}

/** Connection options shared by the worker's NativeConnection and the client's Connection. */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  apiKey?: string;
  tls?: Exclude<TemporalConfig['tls'], undefined> | boolean;
  metadata?: Record<string, string>;
} {
  // An API key implies TLS (Temporal Cloud) unless TLS was explicitly turned off.
  const tls = config.tls ?? (config.apiKey ? true : undefined);
  return {
    address: config.address,
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(config.metadata ? { metadata: config.metadata } : {}),
  };
}

/** The server is not there (yet): worth waiting for. Anything else (bad credentials, bad TLS) is not. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: number; message?: string } | undefined;
  if (e?.name === 'TransportError') return true;
  if (e?.code === 14 || e?.code === 4) return true; // gRPC UNAVAILABLE, DEADLINE_EXCEEDED
  return /Failed to connect before the deadline|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|UNAVAILABLE|tcp connect error|Connection refused/i.test(
    e?.message ?? '',
  );
}

export interface ConnectWithRetryOptions {
  /** Where (for the log line), e.g. the address. */
  target: string;
  /** One line per failed attempt. */
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many attempts (default: never — a worker waits for its server). */
  maxAttempts?: number;
  signal?: AbortSignal;
}

/**
 * `connect()` until it succeeds, waiting with capped exponential backoff (and jitter) while the server is
 * unreachable, so a worker or gateway started before Temporal waits for it instead of exiting. Errors that
 * are not about reachability are thrown at once.
 */
export async function connectWithRetry<T>(
  connect: () => Promise<T>,
  options: ConnectWithRetryOptions,
): Promise<T> {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (!isUnavailable(err) || (options.maxAttempts !== undefined && attempt >= options.maxAttempts))
        throw err;
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      const delayMs = Math.round(Math.min(max, initial * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4));
      options.logger?.warn(
        { target: options.target, attempt, retryInMs: delayMs, error: (err as Error).message },
        `Temporal at ${options.target} unreachable (attempt ${attempt}); retrying in ${delayMs} ms`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        options.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (options.signal?.aborted) throw options.signal.reason ?? err;
    }
  }
}
