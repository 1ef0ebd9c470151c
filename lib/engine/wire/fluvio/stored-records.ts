/**
 * Fluvio's records as the per-record partition log of earlier versions kept them, one log
 * entry per record, holding everything the client sent of it:
 *
 *   i64 timestamp (ms since the epoch, -1 when the batch had none) | i8 attributes |
 *   i32 key length (-1 for no key) | key | value (the rest)
 *
 * The log now keeps the client's batches as they came; this is what converting an old
 * partition directory reads (storage/log-upgrade.ts): stored records back into batches, base
 * offset the first one's, timestamps and offsets as deltas again.
 */
import { encodeRecords, NO_TIMESTAMP, type BatchRecord } from "./record-batch.ts";

const HEAD_BYTES = 8 + 1 + 4;

/** One record as a client sends and receives it. */
export interface FluvioRecord {
  timestamp: number;
  attributes: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

/** Decodes a stored record (key and value are views into `stored`); throws on one too short for its head or its key. */
export function readStoredRecord(stored: Uint8Array): FluvioRecord {
  return readStoredIn(stored, new DataView(stored.buffer));
}

/** `readStoredRecord` with `source`, a DataView over `stored`'s whole buffer, shared by the records of one read. */
function readStoredIn(stored: Uint8Array, source: DataView): FluvioRecord {
  if (stored.byteLength < HEAD_BYTES) throw new Error(`a stored record of ${stored.byteLength} bytes is shorter than its ${HEAD_BYTES}-byte head`);
  const at = stored.byteOffset;
  const keyLength = source.getInt32(at + 9);
  if (keyLength > stored.byteLength - HEAD_BYTES) throw new Error(`a stored record's key claims ${keyLength} bytes, more than it holds`);
  const valueAt = HEAD_BYTES + Math.max(keyLength, 0);
  return {
    timestamp: source.getInt32(at) * 0x1_0000_0000 + source.getUint32(at + 4),
    attributes: source.getInt8(at + 8),
    key: keyLength < 0 ? null : stored.subarray(HEAD_BYTES, valueAt),
    value: stored.subarray(valueAt),
  };
}

/** One batch of `stored` records, the first at `baseOffset`, as a RecordSet's bytes. */
export function batchOfStored(baseOffset: number, storedRecords: readonly Uint8Array[]): Uint8Array {
  const count = storedRecords.length;
  if (count === 0) return new Uint8Array(0);
  const timestamps = new Array<number>(count);
  const records = new Array<BatchRecord>(count);
  let withTimes = true;
  // Records read together are views into one buffer: one DataView serves them all.
  let source: DataView | undefined;
  for (let index = 0; index < count; index++) {
    const stored = storedRecords[index]!;
    if (source?.buffer !== stored.buffer) source = new DataView(stored.buffer);
    const { timestamp, attributes, key, value } = readStoredIn(stored, source);
    if (timestamp === NO_TIMESTAMP) withTimes = false;
    timestamps[index] = timestamp;
    records[index] = { attributes, timestampDelta: 0, key, value };
  }
  const firstTimestamp = withTimes ? timestamps[0]! : NO_TIMESTAMP;
  if (withTimes) for (let index = 0; index < count; index++) records[index]!.timestampDelta = timestamps[index]! - firstTimestamp;
  return encodeRecords(records, { baseOffset, firstTimestamp });
}
