/**
 * Kafka-style magic-2 record batches as Fluvio carries them (fluvio-protocol
 * src/record/batch.rs, src/record/data.rs). A batch is
 *
 *   base_offset i64 | batch_len i32 (bytes after this field) | partition_leader_epoch i32 |
 *   magic i8 = 2 | crc u32 | attributes i16 | last_offset_delta i32 | first_timestamp i64 |
 *   max_time_stamp i64 | producer_id i64 | producer_epoch i16 | first_sequence i32 |
 *   [schema_id u32 when attributes & 0x10] | record count u32 | records
 *
 * and the CRC-32C covers everything from attributes to the end, so base_offset (assigned on
 * append) and the leader epoch can change without recomputing it. A record is
 *
 *   varint length | attributes i8 | timestamp_delta varint | offset_delta varint |
 *   key: presence byte, then varint length and bytes | value: varint length and bytes |
 *   headers varint (a count; Fluvio writes 0 and reads no header bodies)
 *
 * A RecordSet is an i32 byte length and then whole batches back to back. In a compressed batch
 * (attributes & 7: 1 gzip, 2 snappy, 3 lz4, 4 zstd) everything after the header, the record
 * count included, is the codec's output; the SPU checks and stores such batches as they come
 * and only clients decompress them (compression.ts).
 */
import { codecBits, compress, decompress, type Codec } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { FluvioDecodeError, FluvioEncodeError } from "./errors.ts";
import { Reader } from "./reader.ts";
import { varintSize, writeVarint, Writer } from "./writer.ts";

export interface Record {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Uint8Array | null;
  value: Uint8Array;
  /** The header count: Fluvio writes 0. */
  headers: number;
}

export interface RecordBatch {
  baseOffset: number;
  partitionLeaderEpoch: number;
  attributes: number;
  lastOffsetDelta: number;
  /** Milliseconds since the epoch; NO_TIMESTAMP when unset. */
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  firstSequence: number;
  /** Present exactly when attributes has SCHEMA_PRESENT. */
  schemaId: number | null;
  records: Record[];
}

/** What `scanBatches` learns of a batch without decoding its records. */
export interface BatchInfo {
  /** Index of the batch's first byte (its base_offset) in the scanned bytes. */
  start: number;
  /** Bytes the whole batch takes: 12 + batch_len. */
  byteLength: number;
  baseOffset: number;
  lastOffsetDelta: number;
  recordCount: number;
  /** The codec of attributes bits 0-2: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  compression: number;
  firstTimestamp: number;
  maxTimestamp: number;
}

export const NO_TIMESTAMP = -1;
export const MAGIC = 2;
export const COMPRESSION_MASK = 0x07;
export const SCHEMA_PRESENT = 0x10;
/** base_offset and batch_len: the bytes batch_len does not count. */
export const BATCH_PREAMBLE_BYTES = 12;
/** Fluvio's BATCH_HEADER_SIZE: partition_leader_epoch through first_sequence. */
export const BATCH_HEADER_BYTES = 45;

const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const FIRST_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const RECORDS_AT = 57;
/** A record of empty value and no key: length, attributes, two deltas, key presence, value length, headers. */
const MIN_RECORD_BYTES = 7;
const COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array;
  /** Milliseconds after the batch's first timestamp (default 0). */
  timestampDelta?: number;
}

/**
 * A batch of `records` as Fluvio's producer builds one: offset deltas 0..n-1, the maximum
 * timestamp from the last record's delta, no producer id, epoch or sequence (-1).
 */
export function recordBatch(records: readonly RecordInput[], options: { baseOffset?: number; firstTimestamp?: number } = {}): RecordBatch {
  const firstTimestamp = options.firstTimestamp ?? NO_TIMESTAMP;
  const built = records.map((record, index) => ({
    attributes: 0,
    timestampDelta: record.timestampDelta ?? 0,
    offsetDelta: index,
    key: record.key ?? null,
    value: record.value,
    headers: 0,
  }));
  const lastDelta = built.length > 0 ? built[built.length - 1]!.timestampDelta : 0;
  return {
    baseOffset: options.baseOffset ?? 0,
    partitionLeaderEpoch: -1,
    attributes: 0,
    lastOffsetDelta: built.length - 1,
    firstTimestamp,
    maxTimestamp: firstTimestamp === NO_TIMESTAMP ? NO_TIMESTAMP : firstTimestamp + lastDelta,
    producerId: -1,
    producerEpoch: -1,
    firstSequence: -1,
    schemaId: null,
    records: built,
  };
}

/** A record to put in a batch by `encodeRecords`: its offset delta is its index. */
export interface BatchRecord {
  attributes: number;
  timestampDelta: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

/**
 * One batch of `records` (no headers, no producer id, epoch or sequence), the first at
 * `baseOffset`, written straight into one buffer of its exact size: the data path's encoder
 * (produce in the CLI, every read on an SPU), several times faster than `encodeRecordBatch`.
 */
export function encodeRecords(records: readonly BatchRecord[], options: { baseOffset: number; firstTimestamp: number }): Uint8Array {
  const count = records.length;
  if (count === 0) throw new FluvioEncodeError("a batch needs at least one record");
  const bodyLengths = new Array<number>(count);
  let maxDelta = 0;
  let recordsBytes = 0;
  for (let index = 0; index < count; index++) {
    const { timestampDelta, key, value } = records[index]!;
    if (timestampDelta > maxDelta) maxDelta = timestampDelta;
    const keyBytes = key === null ? 1 : 1 + varintSize(key.byteLength) + key.byteLength;
    // attributes, timestamp delta, offset delta, key, value length and bytes, header count
    const body = 1 + varintSize(timestampDelta) + varintSize(index) + keyBytes + varintSize(value.byteLength) + value.byteLength + 1;
    bodyLengths[index] = body;
    recordsBytes += varintSize(body) + body;
  }
  const total = RECORDS_AT + 4 + recordsBytes;
  const bytes = new Uint8Array(total);
  const view = batchHead(bytes, count, options, maxDelta);
  let position = RECORDS_AT + 4;
  for (let index = 0; index < count; index++) {
    const { attributes, timestampDelta, key, value } = records[index]!;
    position = writeVarint(bytes, position, bodyLengths[index]!);
    bytes[position++] = attributes & 0xff;
    position = writeVarint(bytes, position, timestampDelta);
    position = writeVarint(bytes, position, index);
    if (key === null) {
      bytes[position++] = 0;
    } else {
      bytes[position++] = 1;
      position = writeVarint(bytes, position, key.byteLength);
      bytes.set(key, position);
      position += key.byteLength;
    }
    position = writeVarint(bytes, position, value.byteLength);
    bytes.set(value, position);
    position += value.byteLength;
    bytes[position++] = 0;
  }
  view.setUint32(CRC_AT, crc32c(bytes, ATTRIBUTES_AT, total));
  return bytes;
}

/** Writes the header and record count of an uncompressed batch of `count` records filling `bytes`; returns a view of it. */
function batchHead(bytes: Uint8Array, count: number, options: { baseOffset: number; firstTimestamp: number }, maxDelta: number): DataView {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { baseOffset, firstTimestamp } = options;
  setI64(view, 0, baseOffset);
  view.setInt32(8, bytes.byteLength - BATCH_PREAMBLE_BYTES);
  view.setInt32(12, -1);
  view.setInt8(MAGIC_AT, MAGIC);
  view.setInt16(ATTRIBUTES_AT, 0);
  view.setInt32(LAST_OFFSET_DELTA_AT, count - 1);
  setI64(view, FIRST_TIMESTAMP_AT, firstTimestamp);
  setI64(view, MAX_TIMESTAMP_AT, firstTimestamp === NO_TIMESTAMP ? NO_TIMESTAMP : firstTimestamp + maxDelta);
  setI64(view, 43, -1);
  view.setInt16(51, -1);
  view.setInt32(53, -1);
  view.setUint32(RECORDS_AT, count);
  return view;
}

/**
 * Values named by where they lie, none a view of its own: value i is bytes
 * [starts[i], ends[i]) of sources[i] (many values share a source, as lines share a chunk).
 */
export interface ValueSpans {
  sources: Buffer[];
  starts: number[];
  ends: number[];
}

/**
 * One batch of the values `spans` names (no keys, attributes 0, timestamp deltas 0), the same
 * bytes `encodeRecords` makes of them, each value copied straight from its source.
 */
export function encodeValueSpans(spans: ValueSpans, options: { baseOffset: number; firstTimestamp: number }): Uint8Array {
  const { sources, starts, ends } = spans;
  const count = starts.length;
  if (count === 0) throw new FluvioEncodeError("a batch needs at least one record");
  let recordsBytes = 0;
  for (let index = 0; index < count; index++) {
    const length = ends[index]! - starts[index]!;
    // attributes, timestamp delta 0, offset delta, no key, value length and bytes, header count
    const body = 2 + varintSize(index) + 1 + varintSize(length) + length + 1;
    recordsBytes += varintSize(body) + body;
  }
  const total = RECORDS_AT + 4 + recordsBytes;
  const bytes = Buffer.allocUnsafe(total);
  const view = batchHead(bytes, count, options, 0);
  let position = RECORDS_AT + 4;
  for (let index = 0; index < count; index++) {
    const start = starts[index]!;
    const length = ends[index]! - start;
    position = writeVarint(bytes, position, 2 + varintSize(index) + 1 + varintSize(length) + length + 1);
    bytes[position++] = 0;
    bytes[position++] = 0;
    position = writeVarint(bytes, position, index);
    bytes[position++] = 0;
    position = writeVarint(bytes, position, length);
    sources[index]!.copy(bytes, position, start, start + length);
    position += length;
    bytes[position++] = 0;
  }
  view.setUint32(CRC_AT, crc32c(bytes, ATTRIBUTES_AT, total));
  return bytes;
}

/** Writes an i64 as two 32-bit halves, faster than a BigInt; `value` is a safe integer. */
export function setI64(view: DataView, at: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  view.setInt32(at, high);
  view.setUint32(at + 4, value - high * 0x1_0000_0000);
}

/** Writes one batch, computing batch_len and the CRC. */
export function encodeRecordBatch(writer: Writer, batch: RecordBatch): void {
  const start = writer.length;
  writer.i64(batch.baseOffset);
  const lengthAt = writer.placeholderI32();
  writer.i32(batch.partitionLeaderEpoch);
  writer.i8(MAGIC);
  const crcAt = writer.placeholderI32();
  const hasSchema = batch.schemaId !== null;
  writer.i16(hasSchema ? batch.attributes | SCHEMA_PRESENT : batch.attributes & ~SCHEMA_PRESENT);
  writer.i32(batch.lastOffsetDelta);
  writer.i64(batch.firstTimestamp);
  writer.i64(batch.maxTimestamp);
  writer.i64(batch.producerId);
  writer.i16(batch.producerEpoch);
  writer.i32(batch.firstSequence);
  if (hasSchema) writer.u32(batch.schemaId!);
  writer.u32(batch.records.length);
  for (const record of batch.records) encodeRecord(writer, record);
  writer.patchI32(lengthAt, writer.length - start - BATCH_PREAMBLE_BYTES);
  writer.patchU32(crcAt, crc32c(writer.finish(), start + ATTRIBUTES_AT, writer.length));
}

function encodeRecord(writer: Writer, record: Record): void {
  const keyBytes = record.key === null ? 1 : 1 + varintSize(record.key.byteLength) + record.key.byteLength;
  const length =
    1 +
    varintSize(record.timestampDelta) +
    varintSize(record.offsetDelta) +
    keyBytes +
    varintSize(record.value.byteLength) +
    record.value.byteLength +
    varintSize(record.headers);
  writer.varint(length);
  writer.i8(record.attributes);
  writer.varint(record.timestampDelta);
  writer.varint(record.offsetDelta);
  if (record.key === null) {
    writer.bool(false);
  } else {
    writer.bool(true);
    writer.varint(record.key.byteLength);
    writer.raw(record.key);
  }
  writer.varint(record.value.byteLength);
  writer.raw(record.value);
  writer.varint(record.headers);
}

/**
 * Reads one batch, checking its length, magic and CRC, and decompressing its records when it
 * is compressed. Keys and values are views into the input (or into the decompressed bytes).
 */
export function decodeRecordBatch(reader: Reader): RecordBatch {
  const start = reader.offset;
  const end = checkBatchFrame(reader.bytes, start, reader.end);
  const batch = new Reader(reader.bytes, start, end);
  const baseOffset = batch.i64("base offset");
  batch.i32("batch length");
  const partitionLeaderEpoch = batch.i32("partition leader epoch");
  batch.i8("magic");
  batch.u32("crc");
  const attributes = batch.i16("attributes");
  const lastOffsetDelta = batch.i32("last offset delta");
  const firstTimestamp = batch.i64("first timestamp");
  const maxTimestamp = batch.i64("max timestamp");
  const producerId = batch.i64("producer id");
  const producerEpoch = batch.i16("producer epoch");
  const firstSequence = batch.i32("first sequence");
  const schemaId = attributes & SCHEMA_PRESENT ? batch.u32("schema id") : null;
  const compression = attributes & COMPRESSION_MASK;
  // A compressed batch's records, count included, are the codec's output (fluvio-compression).
  const recordsReader =
    compression === 0 ? batch : new Reader(decompress(COMPRESSIONS[compression] as Codec, batch.raw(batch.remaining, "compressed records")));
  const count = recordsReader.count("records", MIN_RECORD_BYTES);
  const records = new Array<Record>(count);
  for (let index = 0; index < count; index++) records[index] = decodeRecord(recordsReader);
  if (recordsReader.remaining !== 0) {
    throw new FluvioDecodeError("record batch", start, `${recordsReader.remaining} byte(s) follow the last of its ${count} record(s)`);
  }
  reader.offset = end;
  return {
    baseOffset,
    partitionLeaderEpoch,
    attributes,
    lastOffsetDelta,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    firstSequence,
    schemaId,
    records,
  };
}

function decodeRecord(reader: Reader): Record {
  const start = reader.offset;
  const length = reader.varint("record length");
  if (length < MIN_RECORD_BYTES - 1 || length > reader.remaining) {
    throw new FluvioDecodeError("record", start, `length ${length} is outside ${MIN_RECORD_BYTES - 1}..${reader.remaining}`);
  }
  const end = reader.offset + length;
  const attributes = reader.i8("record attributes");
  const timestampDelta = reader.varint("timestamp delta");
  const offsetDelta = reader.varint("offset delta");
  let key: Uint8Array | null = null;
  if (reader.bool("record key presence")) key = reader.raw(dataLength(reader, "record key"), "record key");
  const value = reader.raw(dataLength(reader, "record value"), "record value");
  const headers = reader.varint("record headers");
  if (reader.offset !== end) {
    throw new FluvioDecodeError("record", start, `its fields take ${reader.offset - start} byte(s), its length says ${end - start}`);
  }
  return { attributes, timestampDelta, offsetDelta, key, value, headers };
}

function dataLength(reader: Reader, what: string): number {
  const at = reader.offset;
  const length = reader.varint(`${what} length`);
  if (length < 0) throw new FluvioDecodeError(`${what} length`, at, `length ${length} is negative`);
  return length;
}

/**
 * Checks the batch starting at `start` (within `end`): batch_len in bounds, magic 2, not
 * a known compression codec, CRC matching. Returns the index one past the batch.
 */
function checkBatchFrame(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < BATCH_PREAMBLE_BYTES + BATCH_HEADER_BYTES + 4) {
    throw new FluvioDecodeError("record batch", start, `needs at least ${BATCH_PREAMBLE_BYTES + BATCH_HEADER_BYTES + 4} bytes, ${end - start} remain`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const batchLength = view.getInt32(8);
  if (batchLength < BATCH_HEADER_BYTES + 4 || batchLength > end - start - BATCH_PREAMBLE_BYTES) {
    throw new FluvioDecodeError("batch length", start + 8, `batch length ${batchLength} is outside ${BATCH_HEADER_BYTES + 4}..${end - start - BATCH_PREAMBLE_BYTES}`);
  }
  const magic = view.getInt8(MAGIC_AT);
  if (magic !== MAGIC) throw new FluvioDecodeError("magic", start + MAGIC_AT, `magic is ${magic}, only ${MAGIC} is supported`);
  const compression = view.getInt16(ATTRIBUTES_AT) & COMPRESSION_MASK;
  if (compression >= COMPRESSIONS.length) {
    throw new FluvioDecodeError("attributes", start + ATTRIBUTES_AT, `the batch names compression codec ${compression}, which Fluvio does not have`);
  }
  const batchEnd = start + BATCH_PREAMBLE_BYTES + batchLength;
  const expected = view.getUint32(CRC_AT);
  const actual = crc32c(bytes, start + ATTRIBUTES_AT, batchEnd);
  if (actual !== expected) {
    throw new FluvioDecodeError("record batch crc", start + CRC_AT, `crc is ${hex32(expected)}, the bytes give ${hex32(actual)}`);
  }
  return batchEnd;
}

/**
 * Validates the batches in bytes [start, end) without decoding their records (framing, magic,
 * compression, CRC, and a record count of last_offset_delta + 1, the rule offsets are assigned
 * by) and describes each. This is the SPU's check of a produce request's records.
 */
export function scanBatches(bytes: Uint8Array, start = 0, end = bytes.byteLength): BatchInfo[] {
  const batches: BatchInfo[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = start;
  while (position < end) {
    const batchEnd = checkBatchFrame(bytes, position, end);
    const attributes = view.getInt16(position + ATTRIBUTES_AT);
    const countAt = position + RECORDS_AT + (attributes & SCHEMA_PRESENT ? 4 : 0);
    if (countAt + 4 > batchEnd && (attributes & COMPRESSION_MASK) === 0) throw new FluvioDecodeError("record count", countAt, "the batch ends before its record count");
    const compression = attributes & COMPRESSION_MASK;
    const lastOffsetDelta = view.getInt32(position + LAST_OFFSET_DELTA_AT);
    // A compressed batch's count is inside its compressed part, which the SPU never opens.
    const recordCount = compression === 0 ? view.getUint32(countAt) : lastOffsetDelta + 1;
    if (recordCount <= 0 || recordCount !== lastOffsetDelta + 1) {
      throw new FluvioDecodeError(
        "record count",
        countAt,
        `the batch holds ${recordCount} record(s) but its last offset delta is ${lastOffsetDelta}; it must hold at least one, and last offset delta + 1`,
      );
    }
    const reader = new Reader(bytes, position, batchEnd);
    const baseOffset = reader.i64("base offset");
    reader.offset = position + FIRST_TIMESTAMP_AT;
    const firstTimestamp = reader.i64("first timestamp");
    reader.offset = position + MAX_TIMESTAMP_AT;
    const maxTimestamp = reader.i64("max timestamp");
    batches.push({ start: position, byteLength: batchEnd - position, baseOffset, lastOffsetDelta, recordCount, compression, firstTimestamp, maxTimestamp });
    position = batchEnd;
  }
  return batches;
}

/** Sets the base_offset of the batch at `batchStart`, in place (the CRC does not cover it). */
export function setBatchBaseOffset(bytes: Uint8Array, batchStart: number, baseOffset: number): void {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
    throw new FluvioEncodeError(`base offset ${baseOffset} is not a safe non-negative integer`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + batchStart, 8);
  const high = Math.floor(baseOffset / 0x1_0000_0000);
  view.setInt32(0, high);
  view.setUint32(4, baseOffset - high * 0x1_0000_0000);
}

/** Writes a RecordSet of already encoded batches: i32 byte length, then the bytes. */
export function encodeRecordSet(writer: Writer, batches: Uint8Array): void {
  writer.i32(batches.byteLength);
  writer.raw(batches);
}

/** Reads a RecordSet's i32 length and returns its batches' bytes as a view (not checked). */
export function decodeRecordSetBytes(reader: Reader): Uint8Array {
  const at = reader.offset;
  const length = reader.i32("record set length");
  if (length < 0) throw new FluvioDecodeError("record set length", at, `length ${length} is negative`);
  return reader.raw(length, "record set");
}

/** Decodes every batch of a RecordSet's bytes (as from decodeRecordSetBytes). */
export function decodeBatches(batches: Uint8Array): RecordBatch[] {
  const reader = new Reader(batches);
  const decoded: RecordBatch[] = [];
  while (reader.remaining > 0) decoded.push(decodeRecordBatch(reader));
  return decoded;
}

/** Encodes batches back to back (the contents of a RecordSet). */
export function encodeBatches(batches: readonly RecordBatch[]): Buffer {
  const writer = new Writer(1024);
  for (const batch of batches) encodeRecordBatch(writer, batch);
  return writer.finish();
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/**
 * `batch` (one uncompressed batch without a schema id, as `encodeRecords` makes) with its
 * records, count included, compressed by `codec`: attributes, batch_len and CRC set as
 * Fluvio's producer sets them (fluvio-protocol `Batch<RawRecords>::try_from`).
 */
export function compressBatch(batch: Uint8Array, codec: Codec): Uint8Array {
  const compressed = compress(codec, batch.subarray(RECORDS_AT));
  const out = new Uint8Array(RECORDS_AT + compressed.byteLength);
  out.set(batch.subarray(0, RECORDS_AT));
  out.set(compressed, RECORDS_AT);
  const view = new DataView(out.buffer);
  view.setInt32(8, out.byteLength - BATCH_PREAMBLE_BYTES);
  view.setInt16(ATTRIBUTES_AT, (view.getInt16(ATTRIBUTES_AT) & ~COMPRESSION_MASK) | codecBits(codec));
  view.setUint32(CRC_AT, crc32c(out, ATTRIBUTES_AT, out.byteLength));
  return out;
}

const NEWLINE = 10;

/**
 * The values of the records at `fromOffset` or later in `batches` (whole batches, as a fetch
 * answer carries them), each followed by a newline, in one buffer, and how many they are:
 * what `cluster consume` prints, made with one copy per value and no Record or view per
 * record. The batches are checked as `decodeBatches` checks them: by `scanBatches` (CRC-32C
 * included) unless `scanned` is what it said of them already, then each record.
 */
export function valueLines(batches: Uint8Array, fromOffset: number, scanned: readonly BatchInfo[] = scanBatches(batches)): { lines: Buffer; count: number } {
  const regions: { bytes: Buffer; start: number; end: number; count: number; baseOffset: number }[] = [];
  let bound = 0;
  for (const batch of scanned) {
    const end = batch.start + batch.byteLength;
    const recordsAt = batch.start + RECORDS_AT + (batches[batch.start + ATTRIBUTES_AT + 1]! & SCHEMA_PRESENT ? 4 : 0);
    // A compressed batch's records, count included, are the codec's output (fluvio-compression).
    const bytes =
      batch.compression === 0
        ? Buffer.from(batches.buffer, batches.byteOffset, batches.byteLength)
        : asBuffer(decompress(COMPRESSIONS[batch.compression] as Codec, batches.subarray(recordsAt, end)));
    const start = batch.compression === 0 ? recordsAt : 0;
    const regionEnd = batch.compression === 0 ? end : bytes.byteLength;
    const count = new Reader(bytes, start, regionEnd).count("records", MIN_RECORD_BYTES);
    regions.push({ bytes, start: start + 4, end: regionEnd, count, baseOffset: batch.baseOffset });
    // A value and its newline never take more bytes than its record.
    bound += regionEnd - start;
  }
  const lines = Buffer.allocUnsafe(bound);
  let written = 0;
  let lineCount = 0;
  for (const { bytes, start, end, count, baseOffset } of regions) {
    const reader = new Reader(bytes, start, end);
    // A record's varints are mostly one or two bytes: those are read here, longer ones by the reader.
    const varint = (what: string): number => {
      const at = reader.offset;
      if (at + 1 < end) {
        const first = bytes[at]!;
        if (first < 0x80) {
          reader.offset = at + 1;
          return (first >>> 1) ^ -(first & 1);
        }
        const second = bytes[at + 1]!;
        if (second < 0x80) {
          const zigzag = (first & 0x7f) | (second << 7);
          reader.offset = at + 2;
          return (zigzag >>> 1) ^ -(zigzag & 1);
        }
      }
      return reader.varint(what);
    };
    for (let index = 0; index < count; index++) {
      const at = reader.offset;
      const length = varint("record length");
      if (length < MIN_RECORD_BYTES - 1 || length > end - reader.offset) {
        throw new FluvioDecodeError("record", at, `length ${length} is outside ${MIN_RECORD_BYTES - 1}..${end - reader.offset}`);
      }
      const recordEnd = reader.offset + length;
      // attributes (the length covers it)
      reader.offset++;
      varint("timestamp delta");
      const offsetDelta = varint("offset delta");
      if (reader.bool("record key presence")) {
        const keyLength = fieldLength(varint, reader, "record key length", recordEnd);
        reader.offset += keyLength;
      }
      const valueLength = fieldLength(varint, reader, "record value length", recordEnd);
      if (baseOffset + offsetDelta >= fromOffset) {
        bytes.copy(lines, written, reader.offset, reader.offset + valueLength);
        lines[written + valueLength] = NEWLINE;
        written += valueLength + 1;
        lineCount++;
      }
      reader.offset += valueLength;
      varint("record headers");
      if (reader.offset !== recordEnd) {
        throw new FluvioDecodeError("record", at, `its fields take ${reader.offset - at} byte(s), its length says ${recordEnd - at}`);
      }
    }
    if (reader.remaining !== 0) throw new FluvioDecodeError("record batch", reader.offset, `${reader.remaining} byte(s) follow the last of its ${count} record(s)`);
  }
  return { lines: lines.subarray(0, written), count: lineCount };
}

/** A key's or value's varint length (read by `varint`), checked to fit before `limit`. */
function fieldLength(varint: (what: string) => number, reader: Reader, what: string, limit: number): number {
  const at = reader.offset;
  const length = varint(what);
  if (length < 0) throw new FluvioDecodeError(what, at, `length ${length} is negative`);
  if (length > limit - reader.offset) throw new FluvioDecodeError(what, at, `length ${length} runs past its record`);
  return length;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
