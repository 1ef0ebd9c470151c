/**
 * The codecs of compressed batches, as Fluvio's clients write them (fluvio-compression): gzip
 * (flate2's gzip stream), snappy in its framing format (the snap crate's FrameEncoder), lz4 in
 * its frame format (lz4_flex's FrameEncoder) and zstd (a zstd frame). Clients use them: the
 * CLI's `produce --compression` and `consume`. The SPU never does: it stores and serves
 * compressed batches as they came.
 *
 * gzip and zstd are Bun's own. lz4 frames come from lz4-napi, a binding of lz4_flex, the very
 * crate Fluvio uses. snappy comes from the `snappy` package (the Snappy library's raw block
 * format, native); the framing format around it, which that package does not write, is here:
 *
 *   stream identifier: ff 06 00 00 "sNaPpY"
 *   chunk: type u8 (00 compressed, 01 uncompressed, fe padding, 80..fd skippable) |
 *          u24 little-endian length | masked CRC-32C (u32 LE) of the uncompressed data | data
 *   each chunk holds at most 65,536 bytes of uncompressed data
 */
import { crc32c } from "./crc32c.ts";
import { FluvioDecodeError } from "./errors.ts";

/** The codecs a batch may name, by Fluvio's names (attributes bits 0-2 are their index in CODECS, none being 0). */
export type Codec = "gzip" | "snappy" | "lz4" | "zstd";
export const CODECS: readonly Codec[] = ["gzip", "snappy", "lz4", "zstd"];

/** The attributes bits of `codec`. */
export function codecBits(codec: Codec): number {
  return CODECS.indexOf(codec) + 1;
}

// NOTE: the native bindings load on first use, so that no daemon or command pays for them at start-up.
const lz4 = (): typeof import("lz4-napi") => require("lz4-napi");
const snappy = (): typeof import("snappy") => require("snappy");

const SNAPPY_STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const SNAPPY_CHUNK_BYTES = 65_536;
const SNAPPY_COMPRESSED = 0x00;
const SNAPPY_UNCOMPRESSED = 0x01;
const SNAPPY_MASK_DELTA = 0xa282ead8;

/** `bytes` compressed with `codec`. */
export function compress(codec: Codec, bytes: Uint8Array): Uint8Array {
  switch (codec) {
    case "gzip":
      return Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>);
    case "zstd":
      // Level 1, as Fluvio's producer.
      return Bun.zstdCompressSync(bytes, { level: 1 });
    case "lz4":
      return lz4().compressFrameSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case "snappy":
      return snappyFrames(bytes);
  }
}

/** The bytes `compressed` holds, decompressed with `codec`; throws FluvioDecodeError when they do not decompress. */
export function decompress(codec: Codec, compressed: Uint8Array): Uint8Array {
  try {
    switch (codec) {
      case "gzip":
        return Bun.gunzipSync(compressed as Uint8Array<ArrayBuffer>);
      case "zstd":
        return Bun.zstdDecompressSync(compressed);
      case "lz4":
        return lz4().decompressFrameSync(Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength));
      case "snappy":
        return unsnappyFrames(compressed);
    }
  } catch (error) {
    if (error instanceof FluvioDecodeError) throw error;
    throw new FluvioDecodeError(`${codec} records`, 0, `they do not decompress: ${(error as Error).message}`);
  }
}

function maskedCrc(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + SNAPPY_MASK_DELTA) >>> 0;
}

function snappyFrames(bytes: Uint8Array): Uint8Array {
  const parts: Buffer[] = [SNAPPY_STREAM_IDENTIFIER];
  for (let at = 0; at < bytes.byteLength; at += SNAPPY_CHUNK_BYTES) {
    const chunk = bytes.subarray(at, Math.min(at + SNAPPY_CHUNK_BYTES, bytes.byteLength));
    const compressed = snappy().compressSync(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    // As the snap crate: stored uncompressed when compressing saves too little.
    const useCompressed = compressed.length < chunk.byteLength - chunk.byteLength / 8;
    const data = useCompressed ? compressed : chunk;
    const head = Buffer.allocUnsafe(8);
    head[0] = useCompressed ? SNAPPY_COMPRESSED : SNAPPY_UNCOMPRESSED;
    head.writeUIntLE(data.byteLength + 4, 1, 3);
    head.writeUInt32LE(maskedCrc(chunk), 4);
    parts.push(head, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return Buffer.concat(parts);
}

function unsnappyFrames(framed: Uint8Array): Uint8Array {
  const bytes = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const fail = (at: number, problem: string) => new FluvioDecodeError("snappy frame", at, problem);
  if (bytes.length < SNAPPY_STREAM_IDENTIFIER.length || !bytes.subarray(0, SNAPPY_STREAM_IDENTIFIER.length).equals(SNAPPY_STREAM_IDENTIFIER)) {
    throw fail(0, "the records do not start with snappy's stream identifier");
  }
  const chunks: Uint8Array[] = [];
  let at = SNAPPY_STREAM_IDENTIFIER.length;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw fail(at, "a chunk header is cut short");
    const type = bytes[at]!;
    const length = bytes.readUIntLE(at + 1, 3);
    const end = at + 4 + length;
    if (end > bytes.length) throw fail(at, `a chunk of ${length} bytes runs past the end`);
    if (type === SNAPPY_COMPRESSED || type === SNAPPY_UNCOMPRESSED) {
      if (length < 4) throw fail(at, "a data chunk has no checksum");
      const data = bytes.subarray(at + 8, end);
      const chunk = type === SNAPPY_COMPRESSED ? new Uint8Array(snappy().uncompressSync(data) as Buffer) : data;
      if (maskedCrc(chunk) !== bytes.readUInt32LE(at + 4)) throw fail(at, "a chunk's checksum does not match its data");
      chunks.push(chunk);
    } else if (type === 0xff) {
      // A repeated stream identifier (concatenated streams) is allowed.
    } else if (type < 0x80) {
      throw fail(at, `unskippable chunk type ${type}`);
    }
    at = end;
  }
  return Buffer.concat(chunks);
}
