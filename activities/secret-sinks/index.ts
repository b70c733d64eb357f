import { FileSecretSink, type SecretSink } from '../secret-sink';
import { HttpSecretSink } from './http';

export { FileSecretSink, type SecretSink, type ShownOnceSecret } from '../secret-sink';
export { HttpSecretSink, SIGNATURE_HEADER, signSecretSinkBody, type HttpSecretSinkOptions } from './http';
export { VaultSecretSink, type VaultClient } from './vault';

/**
 * Where shown-once secrets go, chosen by the worker's environment (worker/config.ts):
 * - `LAYERS_SECRET_SINK=file` (default): 0600 files in `LAYERS_SECRET_SINK_DIR` (default `.data/secrets`).
 * - `LAYERS_SECRET_SINK=http`: POST to `LAYERS_SECRET_SINK_URL`, HMAC-signed with
 *   `LAYERS_SECRET_SINK_HMAC_KEY` (or `LAYERS_SECRET_SINK_HMAC_KEY_FILE`).
 * A vault is plugged in code: see vault.ts.
 */
export type SecretSinkConfig =
  | { kind: 'file'; dir: string }
  | {
      kind: 'http';
      url: string;
      hmacKey: string;
      attempts?: number;
      backoffMs?: { initial: number; max: number };
    };

export function createSecretSink(config: SecretSinkConfig): SecretSink {
  switch (config.kind) {
    case 'file':
      return new FileSecretSink(config.dir);
    case 'http':
      return new HttpSecretSink({
        url: config.url,
        signingKey: config.hmacKey,
        attempts: config.attempts,
        backoffMs: config.backoffMs,
      });
  }
}

/** A reference-only description for start-up logs: never the HMAC key. */
export function describeSecretSink(config: SecretSinkConfig): string {
  if (config.kind === 'file') return `file (${config.dir})`;
  const url = new URL(config.url);
  return `http (${url.origin}${url.pathname})`;
}
