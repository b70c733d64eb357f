import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

// The protobuf wire form of `temporal.api.common.v1.Payload` is what an encrypting codec encrypts: the
// bytes Temporal's own encryption samples produce with `Payload.encode(payload).finish()`, so a codec
// server written in another SDK reads our payloads with the same keys. Encoded and decoded by the SDK's
// own generated message (@temporalio/proto), not by hand.

const ProtoPayload = temporal.api.common.v1.Payload;

export function encodePayloadProto(payload: Payload): Uint8Array {
  if (payload.externalPayloads?.length) {
    throw new Error('payload codec: payloads stored externally (externalPayloads) are not supported');
  }
  const metadata: Record<string, Uint8Array> = {};
  for (const key of Object.keys(payload.metadata ?? {})) {
    // defineProperty, not assignment: a key named "__proto__" must stay a key, not become the prototype.
    Object.defineProperty(metadata, key, {
      value: payload.metadata![key] ?? new Uint8Array(),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return ProtoPayload.encode({ metadata, data: payload.data ?? null }).finish();
}

export function decodePayloadProto(buf: Uint8Array): Payload {
  const decoded = ProtoPayload.decode(buf);
  // A plain object with copies: the message's map is frozen when empty, and its bytes are views of `buf`.
  const metadata: Record<string, Uint8Array> = {};
  for (const key of Object.keys(decoded.metadata ?? {})) {
    Object.defineProperty(metadata, key, {
      value: Uint8Array.from(decoded.metadata![key] ?? []),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { metadata, data: Uint8Array.from(decoded.data ?? []) };
}
