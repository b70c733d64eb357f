// `npm run codec-server`: lets operators who hold CODEC_SERVER_TOKEN read encrypted payloads in the
// Temporal Web UI (or with `temporal workflow show --codec-endpoint … --codec-auth "Bearer …"`).
//
//   TEMPORAL_CODEC_KEYS (or TEMPORAL_CODEC_KEYS_FILE)  the same keys as the workers and clients
//   CODEC_SERVER_TOKEN (or CODEC_SERVER_TOKEN_FILE)    at least 16 characters, e.g. `openssl rand -hex 24`;
//                                                      from the environment or a file only, never argv (`ps`)
//   CODEC_SERVER_PORT                                  default 8888
//   CODEC_SERVER_HOST                                  default 127.0.0.1
//   CODEC_SERVER_CORS_ORIGINS                          comma-separated Web UI origins, default
//                                                      http://localhost:8233,http://127.0.0.1:8233
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../common/connection';
import { codecFromEnv } from '../common/codec/data-converter';
import { DEFAULT_CORS_ORIGINS, startCodecServer } from './codec-server';

type Env = Record<string, string | undefined>;

const originSchema = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}, 'must be a list of origins like https://temporal-ui.example.com (scheme, host and port; no path)');

export interface CodecServerConfig {
  token: string;
  port: number;
  host: string;
  corsOrigins: string[];
}

export function loadCodecServerConfig(env: Env = process.env): CodecServerConfig {
  let token = env.CODEC_SERVER_TOKEN?.trim();
  const tokenFile = env.CODEC_SERVER_TOKEN_FILE?.trim();
  if (token && tokenFile)
    throw new ConfigError(
      'CODEC_SERVER_TOKEN_FILE: set either CODEC_SERVER_TOKEN or CODEC_SERVER_TOKEN_FILE, not both',
    );
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `CODEC_SERVER_TOKEN_FILE: cannot read ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (!token)
    throw new ConfigError(
      'CODEC_SERVER_TOKEN: required (or CODEC_SERVER_TOKEN_FILE): the token operators present to decode payloads',
    );
  if (token.length < 16)
    throw new ConfigError('CODEC_SERVER_TOKEN: must be at least 16 characters (e.g. `openssl rand -hex 24`)');
  if (!/^[\x21-\x7e]+$/.test(token) || /[/%?#]/.test(token)) {
    throw new ConfigError(
      'CODEC_SERVER_TOKEN: must be printable ASCII without spaces, "/", "%", "?" or "#" (it may travel in a URL path, compared as sent)',
    );
  }
  const port = z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .safeParse(env.CODEC_SERVER_PORT?.trim() || 8888);
  if (!port.success) throw new ConfigError('CODEC_SERVER_PORT: must be a port number (0-65535)');
  const corsOrigins = env.CODEC_SERVER_CORS_ORIGINS?.trim()
    ? env.CODEC_SERVER_CORS_ORIGINS.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_CORS_ORIGINS;
  for (const origin of corsOrigins) {
    const parsed = originSchema.safeParse(origin);
    if (!parsed.success)
      throw new ConfigError(`CODEC_SERVER_CORS_ORIGINS: "${origin}" ${parsed.error.issues[0]!.message}`);
  }
  return { token, port: port.data, host: env.CODEC_SERVER_HOST?.trim() || '127.0.0.1', corsOrigins };
}

async function main(): Promise<void> {
  const codec = codecFromEnv();
  if (!codec)
    throw new ConfigError(
      'TEMPORAL_CODEC_KEYS: required (or TEMPORAL_CODEC_KEYS_FILE): the keys to decode with',
    );
  const config = loadCodecServerConfig();
  const server = await startCodecServer({ codec, ...config });
  console.log(
    `codec-server: listening on ${server.url} (keys: ${codec.keyIds.join(', ')}; encrypting with ${codec.encryptionKeyId}; ` +
      `CORS: ${config.corsOrigins.join(', ')}). Web UI codec endpoint: ${server.url}/<CODEC_SERVER_TOKEN>`,
  );
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(
      err instanceof ConfigError
        ? `codec-server: configuration: ${err.message}`
        : `codec-server: ${(err as Error).message}`,
    );
    process.exit(1);
  });
}
