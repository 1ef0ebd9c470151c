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
import { decodeBatches, encodeBatches, NO_TIMESTAMP, type RecordBatch } from "./record-batch.ts";

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
  view.setBigInt64(0, BigInt(record.timestamp));
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
    timestamp: Number(view.getBigInt64(0)),
    attributes: view.getInt8(8),
    key: keyLength < 0 ? null : stored.subarray(HEAD_BYTES, valueAt),
    value: stored.subarray(valueAt),
  };
}

/** Every record of a produced RecordSet's batches, stored form, in order; throws FluvioDecodeError on a bad batch. */
export function storedRecordsOf(batches: Uint8Array): Uint8Array[] {
  const stored: Uint8Array[] = [];
  for (const batch of decodeBatches(batches)) {
    for (const record of batch.records) {
      const timestamp = batch.firstTimestamp === NO_TIMESTAMP ? NO_TIMESTAMP : batch.firstTimestamp + record.timestampDelta;
      stored.push(storedRecord({ timestamp, attributes: record.attributes, key: record.key, value: record.value }));
    }
  }
  return stored;
}

/** One batch of `stored` records, the first at `baseOffset`, as a RecordSet's bytes. */
export function batchOfStored(baseOffset: number, stored: readonly Uint8Array[]): Uint8Array {
  if (stored.length === 0) return new Uint8Array(0);
  const records = stored.map(readStoredRecord);
  const firstTimestamp = records[0]!.timestamp;
  const withTimes = firstTimestamp !== NO_TIMESTAMP && records.every((record) => record.timestamp !== NO_TIMESTAMP);
  const deltas = records.map((record) => (withTimes ? record.timestamp - firstTimestamp : 0));
  const batch: RecordBatch = {
    baseOffset,
    partitionLeaderEpoch: -1,
    attributes: 0,
    lastOffsetDelta: records.length - 1,
    firstTimestamp: withTimes ? firstTimestamp : NO_TIMESTAMP,
    maxTimestamp: withTimes ? firstTimestamp + deltas.reduce((max, delta) => Math.max(max, delta), 0) : NO_TIMESTAMP,
    producerId: -1,
    producerEpoch: -1,
    firstSequence: -1,
    schemaId: null,
    records: records.map((record, index) => ({
      attributes: record.attributes,
      timestampDelta: deltas[index]!,
      offsetDelta: index,
      key: record.key,
      value: record.value,
      headers: 0,
    })),
  };
  return encodeBatches([batch]);
}
