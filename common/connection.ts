import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './ids';

// How every process of this project (worker, client, CLI, gateway) finds Temporal: one reading of TEMPORAL_*.

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
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233');

const temporalSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().trim().min(1, 'must not be empty').default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1, 'must not be empty').default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS_CERT_PATH: optionalString,
  TEMPORAL_TLS_KEY_PATH: optionalString,
  TEMPORAL_TLS_CA_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
});

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
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

export function loadTemporalConfig(env: Env = process.env): TemporalConfig {
  const parsed = parse(temporalSchema, env);
  const config: TemporalConfig = {
    address: parsed.TEMPORAL_ADDRESS,
    namespace: parsed.TEMPORAL_NAMESPACE,
    taskQueue: parsed.TEMPORAL_TASK_QUEUE,
    apiKey: parsed.TEMPORAL_API_KEY,
  };
  const { TEMPORAL_TLS_CERT_PATH: certPath, TEMPORAL_TLS_KEY_PATH: keyPath } = parsed;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new ConfigError(
      `${certPath ? 'TEMPORAL_TLS_KEY_PATH' : 'TEMPORAL_TLS_CERT_PATH'}: mTLS needs both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH`,
    );
  }
  if (certPath && keyPath) {
    config.tls = {
      clientCertPair: { crt: readFileVar('TEMPORAL_TLS_CERT_PATH', certPath), key: readFileVar('TEMPORAL_TLS_KEY_PATH', keyPath) },
    };
  }
  if (parsed.TEMPORAL_TLS_CA_PATH) {
    config.tls = { ...config.tls, serverRootCACertificate: readFileVar('TEMPORAL_TLS_CA_PATH', parsed.TEMPORAL_TLS_CA_PATH) };
  }
  if (parsed.TEMPORAL_TLS_SERVER_NAME) config.tls = { ...config.tls, serverNameOverride: parsed.TEMPORAL_TLS_SERVER_NAME };
  return config;
}

/** Connection options shared by the worker's NativeConnection and the client's Connection. */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  apiKey?: string;
  tls?: TemporalConfig['tls'] | boolean;
} {
  const tls = config.tls ?? (config.apiKey ? true : undefined);
  return { address: config.address, ...(config.apiKey ? { apiKey: config.apiKey } : {}), ...(tls ? { tls } : {}) };
}
