import { describe, expect, test } from "bun:test";
import { decodeBatches, encodeBatches, encodeRecords, NO_TIMESTAMP, recordBatch, setI64 } from "../../../../lib/engine/wire/fluvio/record-batch.ts";
import { batchOfStored, readStoredRecord } from "../../../../lib/engine/wire/fluvio/stored-records.ts";

const HEAD_BYTES = 13;

/** Every record of a RecordSet's batches in the stored form the per-record log wrote (as its produce path made them). */
function storedRecordsOf(batches: Uint8Array): Uint8Array[] {
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
      setI64(view, position, timestamp);
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

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString());

describe("stored records", () => {
  const produced = encodeBatches([
    recordBatch(
      [
        { key: Buffer.from("k1"), value: Buffer.from("first"), timestampDelta: 0 },
        { key: null, value: Buffer.from(""), timestampDelta: 7 },
        { key: Buffer.from(""), value: Buffer.from("x".repeat(300)), timestampDelta: 2 },
      ],
      { firstTimestamp: 1_700_000_000_000 },
    ),
    recordBatch([{ key: Buffer.from("k4"), value: Buffer.from("second batch") }]),
  ]);

  test("readStoredRecord() reads back every record's key, value and absolute timestamp, in order, across batches", () => {
    const stored = storedRecordsOf(produced).map(readStoredRecord);
    expect(stored.map((record) => [text(record.key), text(record.value), record.timestamp])).toEqual([
      ["k1", "first", 1_700_000_000_000],
      [null, "", 1_700_000_000_007],
      ["", "x".repeat(300), 1_700_000_000_002],
      ["k4", "second batch", NO_TIMESTAMP],
    ]);
  });

  test("batchOfStored() is one valid batch (CRC-32C checked on decode) at the base offset, with the records, keys and timestamps as produced", () => {
    const [batch, ...rest] = decodeBatches(batchOfStored(40, storedRecordsOf(produced).slice(0, 3)));
    expect(rest).toEqual([]);
    expect(batch!.baseOffset).toBe(40);
    expect(batch!.lastOffsetDelta).toBe(2);
    expect(batch!.firstTimestamp).toBe(1_700_000_000_000);
    expect(batch!.maxTimestamp).toBe(1_700_000_000_007);
    expect(batch!.records.map((record) => [record.offsetDelta, record.timestampDelta, text(record.key), text(record.value)])).toEqual([
      [0, 0, "k1", "first"],
      [1, 7, null, ""],
      [2, 2, "", "x".repeat(300)],
    ]);
  });

  test("batchOfStored() of records without timestamps gives a batch without them, and of none gives no bytes", () => {
    const [batch] = decodeBatches(batchOfStored(0, storedRecordsOf(produced).slice(3)));
    expect([batch!.firstTimestamp, batch!.maxTimestamp, batch!.records.length]).toEqual([NO_TIMESTAMP, NO_TIMESTAMP, 1]);
    expect(batchOfStored(0, [])).toHaveLength(0);
  });

  test("a stored record too short for its head or its key is refused, not read past", () => {
    expect(() => batchOfStored(0, [new Uint8Array(5)])).toThrow("shorter than its 13-byte head");
    const lying = storedRecordsOf(produced)[0]!.slice();
    new DataView(lying.buffer).setInt32(9, 1_000);
    expect(() => batchOfStored(0, [lying])).toThrow("more than it holds");
  });

  test("encodeRecords() gives, byte for byte, what encodeRecordBatch() gives for the batch Fluvio's producer builds", () => {
    const inputs = [
      { key: Buffer.from("k"), value: Buffer.from("v".repeat(200)), timestampDelta: 0 },
      { key: null, value: Buffer.from(""), timestampDelta: 300 },
    ];
    const reference = encodeBatches([recordBatch(inputs, { baseOffset: 12, firstTimestamp: 1_700_000_000_000 })]);
    const fast = encodeRecords(
      inputs.map((input) => ({ attributes: 0, timestampDelta: input.timestampDelta, key: input.key, value: input.value })),
      { baseOffset: 12, firstTimestamp: 1_700_000_000_000 },
    );
    expect(Buffer.from(fast).toString("hex")).toBe(Buffer.from(reference).toString("hex"));
  });
});
