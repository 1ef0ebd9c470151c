/**
 * Fluvio's message framing (fluvio-protocol src/codec/mod.rs, src/api/mod.rs RequestHeader,
 * src/api/request.rs, src/api/response.rs): every message is an i32 size of the bytes that
 * follow, then the payload. A request payload is the header (u16 api key, i16 api version,
 * i32 correlation id, String client id) then the body encoded at the header's version; a
 * response payload is the i32 correlation id then the body, with no key or version: the client
 * matches answers to requests by correlation id, so one socket carries many at once.
 */
import { FluvioDecodeError } from "./errors.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string;
}

/** The smallest request payload: key, version, correlation id and an empty client id. */
export const MIN_REQUEST_BYTES = 2 + 2 + 4 + 2;
/** The smallest response payload: the correlation id. */
export const MIN_RESPONSE_BYTES = 4;
/** Default largest payload a splitter accepts. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface FrameSplitterOptions {
  /** Payloads shorter than this are malformed (MIN_REQUEST_BYTES on a server, MIN_RESPONSE_BYTES on a client). */
  minBytes: number;
  /** Payloads longer than this are refused (default DEFAULT_MAX_FRAME_BYTES). */
  maxBytes?: number;
}

/**
 * Splits a byte stream into frame payloads, whatever the chunking. A payload is a view of the
 * chunk it arrived in (the chunks passed to `push` must not be reused by the caller), copied
 * only when it spans chunks; a large frame arriving in many chunks is joined once, when whole.
 * A size prefix out of bounds throws FluvioDecodeError before any of that frame is buffered:
 * the caller should close the connection.
 */
export class FrameSplitter {
  readonly #minBytes: number;
  readonly #maxBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Bytes of the stream already returned as frames (for error offsets). */
  #consumed = 0;

  constructor(options: FrameSplitterOptions) {
    this.#minBytes = options.minBytes;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received that are not yet a whole frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * The bytes the frame in progress holds once whole (its size prefix and payload), as its
   * size prefix says; while the prefix itself is incomplete, the bytes buffered; 0 between frames.
   */
  get pendingFrameBytes(): number {
    if (this.#buffered < 4) return this.#buffered;
    return 4 + this.#peekSize();
  }

  /** Adds received bytes; returns every payload now complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    const payloads: Uint8Array[] = [];
    while (this.#buffered >= 4) {
      const size = this.#peekSize();
      if (size < this.#minBytes || size > this.#maxBytes) {
        throw new FluvioDecodeError("frame size", this.#consumed, `size ${size} is outside ${this.#minBytes}..${this.#maxBytes}`);
      }
      if (this.#buffered < 4 + size) break;
      payloads.push(this.#take(4 + size).subarray(4));
      this.#consumed += 4 + size;
    }
    return payloads;
  }

  #peekSize(): number {
    let first = this.#chunks[0]!;
    if (first.byteLength < 4) first = this.#join(4);
    return ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0;
  }

  /** Removes the next `count` bytes (count <= buffered) and returns them. */
  #take(count: number): Uint8Array {
    let first = this.#chunks[0]!;
    if (first.byteLength < count) first = this.#join(count);
    this.#buffered -= count;
    if (first.byteLength === count) {
      this.#chunks.shift();
      return first;
    }
    this.#chunks[0] = first.subarray(count);
    return first.subarray(0, count);
  }

  /** Merges leading chunks until the first holds at least `count` bytes; returns it. */
  #join(count: number): Uint8Array {
    let length = 0;
    let chunkCount = 0;
    while (length < count) length += this.#chunks[chunkCount++]!.byteLength;
    // Not zero-filled first: every byte is written below.
    const room = Buffer.allocUnsafe(length);
    const joined = new Uint8Array(room.buffer, room.byteOffset, length);
    let position = 0;
    for (let index = 0; index < chunkCount; index++) {
      joined.set(this.#chunks[index]!, position);
      position += this.#chunks[index]!.byteLength;
    }
    this.#chunks.splice(0, chunkCount, joined);
    return joined;
  }
}

export function encodeRequestHeader(writer: Writer, header: RequestHeader): void {
  writer.u16(header.apiKey);
  writer.i16(header.apiVersion);
  writer.i32(header.correlationId);
  writer.string(header.clientId);
}

export function decodeRequestHeader(reader: Reader): RequestHeader {
  return {
    apiKey: reader.u16("api key"),
    apiVersion: reader.i16("api version"),
    correlationId: reader.i32("correlation id"),
    clientId: reader.string("client id"),
  };
}

/** A whole request frame: size, header, then the body that `writeBody` writes. */
export function encodeRequest(header: RequestHeader, writeBody: (writer: Writer) => void): Buffer {
  const writer = new Writer();
  const size = writer.placeholderI32();
  encodeRequestHeader(writer, header);
  writeBody(writer);
  writer.patchI32(size, writer.length - 4);
  return writer.finish();
}

/** A whole response frame: size, correlation id, then the body that `writeBody` writes. */
export function encodeResponse(correlationId: number, writeBody: (writer: Writer) => void): Buffer {
  const writer = new Writer();
  const size = writer.placeholderI32();
  writer.i32(correlationId);
  writeBody(writer);
  writer.patchI32(size, writer.length - 4);
  return writer.finish();
}

/** Splits a request payload (from FrameSplitter) into its header and a reader of its body. */
export function decodeRequest(payload: Uint8Array): { header: RequestHeader; body: Reader } {
  const body = new Reader(payload);
  return { header: decodeRequestHeader(body), body };
}

/** Splits a response payload (from FrameSplitter) into its correlation id and a reader of its body. */
export function decodeResponse(payload: Uint8Array): { correlationId: number; body: Reader } {
  const body = new Reader(payload);
  return { correlationId: body.i32("correlation id"), body };
}
