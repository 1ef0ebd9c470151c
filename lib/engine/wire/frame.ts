/**
 * The wire format of the built-in engine's TCP links (SPU to SC, and SPU to SPU): a frame is
 *
 *   u32 length of the rest (big-endian) | u32 header length | header (JSON) | body (bytes)
 *
 * Control messages are a JSON header alone; record batches carry their bytes in the body so
 * they are never re-encoded as JSON.
 */

export interface Frame {
  header: { type: string; [key: string]: unknown };
  body: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/** A frame longer than this is a protocol error (or a stranger speaking another protocol). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Encodes one frame. */
export function encodeFrame<T extends { type: string }>(header: T, body: Uint8Array = EMPTY): Buffer {
  const head = encodeFrameHead(header, body.length);
  if (body.length === 0) return head;
  const frame = Buffer.allocUnsafe(head.length + body.length);
  head.copy(frame, 0);
  frame.set(body, head.length);
  return frame;
}

/**
 * A frame's bytes before its body of `bodyLength` bytes: sent with the body after it, a
 * frame of many megabytes of records is never copied into one buffer.
 */
export function encodeFrameHead<T extends { type: string }>(header: T, bodyLength: number): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const head = Buffer.allocUnsafe(8 + headerBytes.length);
  head.writeUInt32BE(4 + headerBytes.length + bodyLength, 0);
  head.writeUInt32BE(headerBytes.length, 4);
  headerBytes.copy(head, 8);
  return head;
}

/** Splits a byte stream into frames, whatever the chunking. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** Adds received bytes; returns every frame now complete, in order. Throws on a malformed stream. */
  push(chunk: Uint8Array): Frame[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < 4) return frames;
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (length < 4 || length > MAX_FRAME_BYTES) throw new Error(`malformed frame: length ${length}`);
      if (this.#buffered < 4 + length) return frames;
      const bytes = this.#take(4 + length);
      const headerLength = bytes.readUInt32BE(4);
      if (headerLength > length - 4) throw new Error(`malformed frame: header length ${headerLength}`);
      const header = JSON.parse(bytes.toString("utf8", 8, 8 + headerLength));
      if (typeof header?.type !== "string") throw new Error("malformed frame: header has no type");
      frames.push({ header, body: bytes.subarray(8 + headerLength) });
    }
  }

  #peek(count: number): Buffer {
    const first = this.#chunks[0]!;
    return first.length >= count ? first : this.#join(count);
  }

  /** Merges only the leading chunks that the next `count` bytes span (bytes after them are not copied). */
  #join(count: number): Buffer {
    let length = 0;
    let chunkCount = 0;
    while (length < count) length += this.#chunks[chunkCount++]!.length;
    const joined = Buffer.concat(this.#chunks.slice(0, chunkCount), length);
    this.#chunks.splice(0, chunkCount, joined);
    return joined;
  }

  #take(count: number): Buffer {
    const first = this.#peek(count);
    if (first.length === count) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(count);
    this.#buffered -= count;
    return first.subarray(0, count);
  }
}
