import { readFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { ConfigError } from '../../common/connection';
import { AesGcmPayloadCodec, KEY_ID_PATTERN, type CodecKey } from './aes-gcm-codec';

type Env = Record<string, string | undefined>;

/** Failure converter that scrubs key material from failure messages and stack traces. */
export const SANITIZING_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');
/** The same, with messages and stack traces moved into an (encrypted) payload: used with the codec. */
export const ENCRYPTING_FAILURE_CONVERTER_PATH = require.resolve('./encrypting-failure-converter');

export interface CodecConfig {
  keys: CodecKey[];
  encryptionKeyId: string;
}

/**
 * Parse `id:base64key` entries separated by commas or newlines (a `#` starts a comment in a keys
 * file). Every key is 32 random bytes, base64 or base64url (`openssl rand -base64 32`). The LAST
 * entry is the newest: it encrypts, unless `TEMPORAL_CODEC_ENCRYPTION_KEY_ID` names another one.
 * Errors name the variable and the key id, never the key.
 */
export function parseCodecKeys(value: string, variable = 'TEMPORAL_CODEC_KEYS'): CodecKey[] {
  const entries = value
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, ''))
    .join(',')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!entries.length)
    throw new ConfigError(`${variable}: no keys (expected id:base64key[,id2:base64key], newest last)`);
  const keys: CodecKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    if (colon <= 0)
      throw new ConfigError(`${variable}: entry ${index + 1} must be id:base64key (the key id comes first)`);
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID_PATTERN.test(id))
      throw new ConfigError(`${variable}: key id "${id.slice(0, 64)}" must be 1-64 of A-Z a-z 0-9 . _ -`);
    if (keys.some((k) => k.id === id)) throw new ConfigError(`${variable}: key id "${id}" appears twice`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded))
      throw new ConfigError(`${variable}: key "${id}" is not base64`);
    const key = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== 32)
      throw new ConfigError(`${variable}: key "${id}" must decode to 32 bytes (AES-256), got ${key.length}`);
    keys.push({ id, key });
  }
  return keys;
}

/** Reads TEMPORAL_CODEC_KEYS or TEMPORAL_CODEC_KEYS_FILE; undefined when neither is set (codec off). */
export function loadCodecConfig(env: Env = process.env): CodecConfig | undefined {
  const inline = env.TEMPORAL_CODEC_KEYS?.trim();
  const file = env.TEMPORAL_CODEC_KEYS_FILE?.trim();
  if (inline && file)
    throw new ConfigError(
      'TEMPORAL_CODEC_KEYS_FILE: set either TEMPORAL_CODEC_KEYS or TEMPORAL_CODEC_KEYS_FILE, not both',
    );
  let keys: CodecKey[];
  if (inline) keys = parseCodecKeys(inline);
  else if (file) {
    let contents: string;
    try {
      contents = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `TEMPORAL_CODEC_KEYS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    keys = parseCodecKeys(contents, 'TEMPORAL_CODEC_KEYS_FILE');
  } else return undefined;
  const pinned = env.TEMPORAL_CODEC_ENCRYPTION_KEY_ID?.trim();
  if (pinned && !keys.some((k) => k.id === pinned)) {
    throw new ConfigError(
      `TEMPORAL_CODEC_ENCRYPTION_KEY_ID: "${pinned.slice(0, 64)}" is not one of the configured key ids (${keys.map((k) => k.id).join(', ')})`,
    );
  }
  return { keys, encryptionKeyId: pinned || keys[keys.length - 1]!.id };
}

export function codecFromConfig(config: CodecConfig): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(config.keys, { encryptionKeyId: config.encryptionKeyId });
}

/** The codec configured by the environment, or undefined when it is off. */
export function codecFromEnv(env: Env = process.env): AesGcmPayloadCodec | undefined {
  const config = loadCodecConfig(env);
  return config ? codecFromConfig(config) : undefined;
}

/**
 * The data converter for workers, clients and the CLI: the AES-GCM codec plus a failure converter
 * that scrubs secrets and encodes failure messages (so the codec encrypts them too). Undefined when no
 * codec keys are configured.
 */
export function dataConverterFromEnv(env: Env = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? dataConverterWithCodec(codec) : undefined;
}

export function dataConverterWithCodec(codec: AesGcmPayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: ENCRYPTING_FAILURE_CONVERTER_PATH };
}

/** The worker's converter: the codec's (see `dataConverterWithCodec`), or (codec off) the secret-scrubbing failure converter alone. */
export function workerDataConverter(codec: AesGcmPayloadCodec | undefined): DataConverter {
  return codec ? dataConverterWithCodec(codec) : { failureConverterPath: SANITIZING_FAILURE_CONVERTER_PATH };
}
