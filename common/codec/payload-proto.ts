import type { Payload } from '@temporalio/common';

// The protobuf wire form of `temporal.api.common.v1.Payload` (`map<string, bytes> metadata = 1;
// bytes data = 2;`), which is what an encrypting codec encrypts: the same bytes Temporal's own
// encryption samples produce with `Payload.encode(payload).finish()`, so a codec server written in
// another SDK can read our payloads with the same keys. Kept here (a few lines) rather than importing
// @temporalio/proto, which is only a transitive dependency.

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function pushBytes(out: number[], field: number, bytes: Uint8Array): void {
  pushVarint(out, (field << 3) | 2);
  pushVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodePayloadProto(payload: Payload): Uint8Array {
  if (payload.externalPayloads?.length) {
    throw new Error('payload codec: payloads stored externally (externalPayloads) are not supported');
  }
  const out: number[] = [];
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    const entry: number[] = [];
    pushBytes(entry, 1, utf8.encode(key));
    pushBytes(entry, 2, value ?? new Uint8Array());
    pushBytes(out, 1, Uint8Array.from(entry));
  }
  if (payload.data?.length) pushBytes(out, 2, payload.data);
  return Uint8Array.from(out);
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error('payload codec: truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error('payload codec: varint too long');
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new Error('payload codec: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`payload codec: unsupported wire type ${wireType}`);
  }
}

export function decodePayloadProto(buf: Uint8Array): Payload {
  const reader = new Reader(buf);
  const metadata: Record<string, Uint8Array> = {};
  let data = new Uint8Array();
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) {
      const entry = new Reader(reader.bytes());
      let key = '';
      let value = new Uint8Array();
      while (!entry.done) {
        const t = entry.varint();
        if (t === 0x0a) key = fromUtf8.decode(entry.bytes());
        else if (t === 0x12) value = Uint8Array.from(entry.bytes());
        else entry.skip(t & 7);
      }
      // defineProperty, not assignment: a key named "__proto__" must stay a key, not become the prototype.
      Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
    } else if (field === 2 && wireType === 2) {
      data = Uint8Array.from(reader.bytes());
    } else reader.skip(wireType);
  }
  return { metadata, data };
}
