import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { decodePayloadProto, encodePayloadProto } from './payload-proto';

/**
 * AES-256-GCM payload encryption.
 *
 * Each payload is serialized (protobuf `Payload`), encrypted with a fresh 12-byte random IV, and
 * replaced by a payload with metadata `encoding: binary/encrypted` and `encryption-key-id: <id>` and
 * data `iv || ciphertext || tag` — the layout of Temporal's own encryption samples.
 *
 * Format 2 (every payload encoded now) also carries `encryption-format: aes-256-gcm/aad-2` and
 * `encrypted-encoding: <the inner payload's encoding>` in its metadata, and authenticates all of that
 * metadata as AES-GCM associated data: changing the key id, the format or the inner encoding label,
 * or grafting the ciphertext under other metadata, fails authentication. Payloads without the format
 * marker (format 1, written before) still decrypt, without associated data — a format-2 ciphertext
 * stripped of its marker fails, because its tag covers the metadata. What AAD cannot give: the codec
 * sees payloads, not workflows, so two payloads with identical metadata (same key, same inner
 * encoding) can still be swapped by someone who can rewrite history.
 *
 * Keys rotate: the codec encrypts with one key (by default the LAST configured one, i.e. the newest)
 * and decrypts with any configured key, chosen by the key id in the payload's metadata. Payloads that
 * are not encrypted pass through decode unchanged, so turning the codec on for a namespace whose
 * histories predate it keeps working.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
export const FORMAT_METADATA_KEY = 'encryption-format';
export const INNER_ENCODING_METADATA_KEY = 'encrypted-encoding';
export const FORMAT_AAD_V2 = 'aes-256-gcm/aad-2';
const MAX_INNER_ENCODING_LENGTH = 128;

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface CodecKey {
  /** Stored in every payload's metadata (plaintext): a label, never key material. */
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

export class UnknownCodecKeyError extends Error {
  override name = 'UnknownCodecKeyError';
}

const text = new TextEncoder();
const fromText = new TextDecoder();

/** The associated data of a format-2 payload: its metadata, sorted by key, length-prefixed (unambiguous). */
export function associatedData(metadata: Record<string, Uint8Array | null | undefined>): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(metadata).sort()) {
    const name = Buffer.from(key, 'utf8');
    const value = Buffer.from(metadata[key] ?? []);
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32BE(name.length, 0);
    lengths.writeUInt32BE(value.length, 4);
    parts.push(lengths, name, value);
  }
  return Buffer.concat(parts);
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();
  readonly encryptionKeyId: string;

  constructor(keys: readonly CodecKey[], options: { encryptionKeyId?: string } = {}) {
    if (!keys.length) throw new Error('AesGcmPayloadCodec: at least one key is required');
    for (const { id, key } of keys) {
      if (!KEY_ID_PATTERN.test(id))
        throw new Error(`AesGcmPayloadCodec: key id "${id}" must be 1-64 of A-Z a-z 0-9 . _ -`);
      if (key.length !== 32)
        throw new Error(`AesGcmPayloadCodec: key "${id}" must be 32 bytes (AES-256), got ${key.length}`);
      if (this.keys.has(id)) throw new Error(`AesGcmPayloadCodec: key id "${id}" is configured twice`);
      this.keys.set(id, Buffer.from(key));
    }
    this.encryptionKeyId = options.encryptionKeyId ?? keys[keys.length - 1]!.id;
    if (!this.keys.has(this.encryptionKeyId)) {
      throw new Error(
        `AesGcmPayloadCodec: encryption key id "${this.encryptionKeyId}" is not among the configured keys`,
      );
    }
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.encryptionKeyId;
    const key = this.keys.get(keyId)!;
    return payloads.map((payload) => {
      const innerEncoding = payload.metadata?.[METADATA_ENCODING_KEY];
      const metadata: Record<string, Uint8Array> = {
        [METADATA_ENCODING_KEY]: text.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA_KEY]: text.encode(keyId),
        [FORMAT_METADATA_KEY]: text.encode(FORMAT_AAD_V2),
        [INNER_ENCODING_METADATA_KEY]: innerEncoding
          ? innerEncoding.slice(0, MAX_INNER_ENCODING_LENGTH)
          : new Uint8Array(),
      };
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(associatedData(metadata));
      const ciphertext = Buffer.concat([cipher.update(encodePayloadProto(payload)), cipher.final()]);
      return { metadata, data: new Uint8Array(Buffer.concat([iv, ciphertext, cipher.getAuthTag()])) };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  /** True when a payload is one this codec (or one with other keys) encrypted. */
  static isEncrypted(payload: Payload): boolean {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    return encoding !== undefined && encoding !== null && fromText.decode(encoding) === ENCRYPTED_ENCODING;
  }

  private decodeOne(payload: Payload): Payload {
    if (!AesGcmPayloadCodec.isEncrypted(payload)) return payload;
    const rawKeyId = payload.metadata?.[KEY_ID_METADATA_KEY];
    if (!rawKeyId)
      throw new UnknownCodecKeyError('payload codec: encrypted payload has no encryption-key-id metadata');
    const keyId = fromText.decode(rawKeyId);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new UnknownCodecKeyError(
        `payload codec: payload was encrypted with key id "${keyId.slice(0, 64)}", which is not configured ` +
          `(configured: ${this.keyIds.join(', ')}); add it to TEMPORAL_CODEC_KEYS`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new Error(`payload codec: encrypted payload (key id "${keyId}") is truncated`);
    const rawFormat = payload.metadata?.[FORMAT_METADATA_KEY];
    const format = rawFormat ? fromText.decode(rawFormat) : undefined;
    if (format !== undefined && format !== FORMAT_AAD_V2) {
      throw new Error(
        `payload codec: unknown encryption format "${format.slice(0, 64)}" (key id "${keyId}"); upgrade this codec`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    if (format === FORMAT_AAD_V2) decipher.setAAD(associatedData(payload.metadata ?? {}));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new Error(
        `payload codec: payload encrypted with key id "${keyId}" failed authentication (wrong key for that id, or tampered)`,
      );
    }
    const decoded = decodePayloadProto(plain);
    if (format === FORMAT_AAD_V2) {
      const claimed = Buffer.from(payload.metadata?.[INNER_ENCODING_METADATA_KEY] ?? []);
      const actual = Buffer.from(decoded.metadata?.[METADATA_ENCODING_KEY] ?? []).subarray(
        0,
        MAX_INNER_ENCODING_LENGTH,
      );
      if (!claimed.equals(actual))
        throw new Error(
          `payload codec: payload encrypted with key id "${keyId}" does not match its encoding label`,
        );
    }
    return decoded;
  }
}
