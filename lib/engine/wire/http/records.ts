/**
 * Record batches on the wire between the CLI and an SPU.
 *
 *   produce request body:  repeated  u32 value length (big-endian) | value
 *   consume response body: the partition log's own frames (see partition-log.ts), sent as
 *                          stored, so a read is one copy from the file to the socket
 */
import { FRAME_HEADER_BYTES } from "../../storage/partition-log.ts";

/** Encodes values as a produce request body. */
export function encodeValues(values: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const value of values) total += 4 + value.byteLength;
  const body = Buffer.allocUnsafe(total);
  let position = 0;
  for (const value of values) {
    body.writeUInt32BE(value.byteLength, position);
    body.set(value, position + 4);
    position += 4 + value.byteLength;
  }
  return body;
}

/** Splits a produce request body into values (views into `body`); throws on a malformed body. */
export function decodeValues(body: Uint8Array): Uint8Array[] {
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const values: Uint8Array[] = [];
  let position = 0;
  while (position < view.length) {
    if (position + 4 > view.length) throw new Error(`truncated value length at byte ${position}`);
    const length = view.readUInt32BE(position);
    if (position + 4 + length > view.length) throw new Error(`value at byte ${position} claims ${length} bytes, more than remain`);
    values.push(view.subarray(position + 4, position + 4 + length));
    position += 4 + length;
  }
  return values;
}

/** The values of log frames as a consume response carries them (views into `bytes`). */
export function decodeLogFrames(bytes: Uint8Array): Uint8Array[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: Uint8Array[] = [];
  let position = 0;
  while (position + FRAME_HEADER_BYTES <= view.length) {
    const length = view.readUInt32LE(position);
    values.push(view.subarray(position + FRAME_HEADER_BYTES, position + FRAME_HEADER_BYTES + length));
    position += FRAME_HEADER_BYTES + length;
  }
  if (position !== view.length) throw new Error(`a consume response ends inside a record frame at byte ${position}`);
  return values;
}
