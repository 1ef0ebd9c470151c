/**
 * Fluvio's records as the partition log keeps them: one log entry per record (so offsets,
 * replication, truncation and the high watermark work per record, as everywhere else in the
 * engine), holding everything the client sent of it:
 *
 *   i64 timestamp (ms since the epoch, -1 when the batch had none) | i8 attributes |
 *   i32 key length (-1 for no key) | key | value (the rest)
 *
 * A produced batch is checked whole (framing, magic, CRC-32C, no compression) before any of it
 * is stored; a read is answered with one batch of the stored records, base offset the first
 * one's, timestamps and offsets as deltas again.
 */
import { crc32c } from "./crc32c.ts";
import { BATCH_HEADER_BYTES, BATCH_PREAMBLE_BYTES, decodeBatches, MAGIC, NO_TIMESTAMP } from "./record-batch.ts";
import { varintSize, writeVarint } from "./writer.ts";

const HEAD_BYTES = 8 + 1 + 4;

/** One record as a client sends and receives it. */
export interface FluvioRecord {
  timestamp: number;
  attributes: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

/** Encodes one record as the log stores it. */
export function storedRecord(record: FluvioRecord): Uint8Array {
  const keyLength = record.key?.byteLength ?? 0;
  const bytes = new Uint8Array(HEAD_BYTES + keyLength + record.value.byteLength);
  const view = new DataView(bytes.buffer);
  writeI64(view, 0, record.timestamp);
  view.setInt8(8, record.attributes);
  view.setInt32(9, record.key === null ? -1 : keyLength);
  if (record.key) bytes.set(record.key, HEAD_BYTES);
  bytes.set(record.value, HEAD_BYTES + keyLength);
  return bytes;
}

/** Decodes a stored record (key and value are views into `stored`); throws on one too short for its key. */
export function readStoredRecord(stored: Uint8Array): FluvioRecord {
  if (stored.byteLength < HEAD_BYTES) throw new Error(`a stored record of ${stored.byteLength} bytes is shorter than its ${HEAD_BYTES}-byte head`);
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const keyLength = view.getInt32(9);
  if (keyLength > stored.byteLength - HEAD_BYTES) throw new Error(`a stored record's key claims ${keyLength} bytes, more than it holds`);
  const valueAt = HEAD_BYTES + Math.max(keyLength, 0);
  return {
    timestamp: readI64(view, 0),
    attributes: view.getInt8(8),
    key: keyLength < 0 ? null : stored.subarray(HEAD_BYTES, valueAt),
    value: stored.subarray(valueAt),
  };
}

/**
 * Every record of a produced RecordSet's batches, stored form, in order (views into one
 * buffer); throws FluvioDecodeError on a bad batch.
 */
export function storedRecordsOf(batches: Uint8Array): Uint8Array[] {
  const decoded = decodeBatches(batches);
  let total = 0;
  for (const batch of decoded) for (const record of batch.records) total += HEAD_BYTES + (record.key?.byteLength ?? 0) + record.value.byteLength;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const stored: Uint8Array[] = [];
  let position = 0;
  for (const batch of decoded) {
    for (const record of batch.records) {
      const start = position;
      const timestamp = batch.firstTimestamp === NO_TIMESTAMP ? NO_TIMESTAMP : batch.firstTimestamp + record.timestampDelta;
      writeI64(view, position, timestamp);
      view.setInt8(position + 8, record.attributes);
      view.setInt32(position + 9, record.key === null ? -1 : record.key.byteLength);
      position += HEAD_BYTES;
      if (record.key) {
        bytes.set(record.key, position);
        position += record.key.byteLength;
      }
      bytes.set(record.value, position);
      position += record.value.byteLength;
      stored.push(bytes.subarray(start, position));
    }
  }
  return stored;
}

/**
 * One batch of `stored` records, the first at `baseOffset`, as a RecordSet's bytes: written
 * straight into one buffer, each record's key and value copied once (this is every consume's
 * and every stream fetch's path).
 */
export function batchOfStored(baseOffset: number, stored: readonly Uint8Array[]): Uint8Array {
  const count = stored.length;
  if (count === 0) return new Uint8Array(0);
  const timestamps = new Array<number>(count);
  const keyLengths = new Array<number>(count);
  let withTimes = true;
  // Records read together are views into one buffer: one DataView serves them all.
  let source: DataView | undefined;
  for (let index = 0; index < count; index++) {
    const record = stored[index]!;
    if (record.byteLength < HEAD_BYTES) throw new Error(`a stored record of ${record.byteLength} bytes is shorter than its ${HEAD_BYTES}-byte head`);
    if (source?.buffer !== record.buffer) source = new DataView(record.buffer);
    timestamps[index] = readI64(source, record.byteOffset);
    const keyLength = source.getInt32(record.byteOffset + 9);
    if (keyLength > record.byteLength - HEAD_BYTES) throw new Error(`a stored record's key claims ${keyLength} bytes, more than it holds`);
    keyLengths[index] = keyLength;
    if (timestamps[index] === NO_TIMESTAMP) withTimes = false;
  }
  const firstTimestamp = withTimes ? timestamps[0]! : NO_TIMESTAMP;
  let maxDelta = 0;
  let recordsBytes = 0;
  const bodyLengths = new Array<number>(count);
  for (let index = 0; index < count; index++) {
    const delta = withTimes ? timestamps[index]! - firstTimestamp : 0;
    if (delta > maxDelta) maxDelta = delta;
    const keyLength = keyLengths[index]!;
    const valueLength = stored[index]!.byteLength - HEAD_BYTES - Math.max(keyLength, 0);
    // attributes, timestamp delta, offset delta, key (presence, length, bytes), value (length, bytes), header count
    const body =
      1 + varintSize(delta) + varintSize(index) + (keyLength < 0 ? 1 : 1 + varintSize(keyLength) + keyLength) + varintSize(valueLength) + valueLength + 1;
    bodyLengths[index] = body;
    recordsBytes += varintSize(body) + body;
  }
  const total = BATCH_PREAMBLE_BYTES + BATCH_HEADER_BYTES + 4 + recordsBytes;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  writeI64(view, 0, baseOffset);
  view.setInt32(8, total - BATCH_PREAMBLE_BYTES);
  view.setInt32(12, -1); // partition leader epoch
  view.setInt8(16, MAGIC);
  view.setInt16(21, 0); // attributes: no compression, no schema
  view.setInt32(23, count - 1); // last offset delta
  writeI64(view, 27, firstTimestamp);
  writeI64(view, 35, withTimes ? firstTimestamp + maxDelta : NO_TIMESTAMP);
  writeI64(view, 43, -1); // producer id
  view.setInt16(51, -1); // producer epoch
  view.setInt32(53, -1); // first sequence
  view.setUint32(57, count);
  let position = 61;
  for (let index = 0; index < count; index++) {
    const record = stored[index]!;
    const keyLength = keyLengths[index]!;
    position = writeVarint(bytes, position, bodyLengths[index]!);
    bytes[position++] = record[8]!; // attributes
    position = writeVarint(bytes, position, withTimes ? timestamps[index]! - firstTimestamp : 0);
    position = writeVarint(bytes, position, index);
    let valueAt = HEAD_BYTES;
    if (keyLength < 0) {
      bytes[position++] = 0;
    } else {
      bytes[position++] = 1;
      position = writeVarint(bytes, position, keyLength);
      bytes.set(record.subarray(HEAD_BYTES, HEAD_BYTES + keyLength), position);
      position += keyLength;
      valueAt += keyLength;
    }
    const value = record.subarray(valueAt);
    position = writeVarint(bytes, position, value.byteLength);
    bytes.set(value, position);
    position += value.byteLength;
    bytes[position++] = 0; // no headers
  }
  view.setUint32(17, crc32c(bytes, 21, total));
  return bytes;
}

/** An i64 as two 32-bit halves: a BigInt per record costs more than the record's copy. */
function writeI64(view: DataView, at: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  view.setInt32(at, high);
  view.setUint32(at + 4, value - high * 0x1_0000_0000);
}

function readI64(view: DataView, at: number): number {
  return view.getInt32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
}
