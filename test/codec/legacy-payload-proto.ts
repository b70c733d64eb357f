import type { Payload } from '@temporalio/common';

// A frozen copy of the hand-written protobuf `Payload` decoder the codec used until it moved to
// @temporalio/proto (common/codec/payload-proto.ts at 24cc1b5). Test-only: it stands for a worker or
// codec server that has not been upgraded yet, which must still read what the new code writes.

const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
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

export function legacyDecodePayloadProto(buf: Uint8Array): Payload {
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
