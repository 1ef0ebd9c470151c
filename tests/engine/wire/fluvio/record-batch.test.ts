import { describe, expect, test } from "bun:test";
import { crc32c } from "../../../../lib/engine/wire/fluvio/crc32c.ts";
import { FluvioDecodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import { Reader } from "../../../../lib/engine/wire/fluvio/reader.ts";
import {
  decodeBatches,
  decodeRecordBatch,
  decodeRecordSetBytes,
  encodeBatches,
  encodeRecordSet,
  recordBatch,
  scanBatches,
  setBatchBaseOffset,
  type RecordBatch,
} from "../../../../lib/engine/wire/fluvio/record-batch.ts";
import { bytes, decodedWhole, encoded, hex } from "../../../fluvio-bytes.ts";

/** Bit by bit, to check the table-driven implementation against. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Recomputes the CRC of a batch at `start` after a test has changed its bytes. */
function withCrc(batch: Uint8Array, start = 0): Uint8Array {
  const length = new DataView(batch.buffer, batch.byteOffset).getInt32(start + 8);
  new DataView(batch.buffer, batch.byteOffset).setUint32(start + 17, crc32c(batch, start + 21, start + 12 + length));
  return batch;
}

describe("crc32c()", () => {
  const checks: [string, Uint8Array, number][] = [
    ["the check string 123456789", bytes('"123456789"'), 0xe3069283],
    ["no bytes", new Uint8Array(0), 0],
    ["32 zero bytes", new Uint8Array(32), 0x8a9136aa],
    ["32 0xff bytes", new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ["0..31 ascending", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ];
  test.each(checks)("crc32c() of %s is its known value", (_name, data, expected) => {
    expect(crc32c(data)).toBe(expected);
  });

  // Past 512 bytes crc32c() takes the native path: both are checked.
  test("crc32c() agrees with a bitwise CRC-32C at every length and alignment", () => {
    const data = Uint8Array.from({ length: 1300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= data.length; end += 17) expect(crc32c(data, start, end)).toBe(crc32cBitwise(data.subarray(start, end)));
    }
  });
});

describe("record batches", () => {
  const batch = recordBatch(
    [
      { key: bytes('"k1"'), value: bytes('"v1"') },
      { value: bytes('"v22"'), timestampDelta: 3 },
    ],
    { baseOffset: 5, firstTimestamp: 1_700_000_000_000 },
  );
  // Hand-derived from batch.rs and data.rs; the CRC field is checked separately below.
  const layout =
    "0000000000000005 | 00000047 | ffffffff | 02 | CRC | 0000 | 00000001 | 0000018bcfe56800 | 0000018bcfe56803 | " +
    "ffffffffffffffff | ffff | ffffffff | 00000002 | " +
    '16 00 00 00 01 04 "k1" 04 "v1" 00 | 12 00 06 02 00 06 "v22" 00';

  test("a batch with keys encodes to its hand-checked layout and CRC", () => {
    const out = encodeBatches([batch]);
    expect(out).toHaveLength(83);
    const crc = crc32cBitwise(out.subarray(21));
    expect(hex(out)).toBe(hex(bytes(layout.replace("CRC", crc.toString(16).padStart(8, "0")))));
    expect(decodedWhole(out, decodeRecordBatch)).toEqual(batch);
  });

  test("decoded keys and values are views into the input, not copies", () => {
    const out = encodeBatches([batch]);
    const [decoded] = decodeBatches(out);
    expect(decoded!.records[0]!.key!.buffer).toBe(out.buffer);
    expect(decoded!.records[1]!.value.buffer).toBe(out.buffer);
  });

  // Fluvio's own batch.rs tests: one record "test", no key, timestamps 1555478494747, last offset delta -1.
  const fluvioBatch = (schemaId: number | null): RecordBatch => ({
    ...recordBatch([{ value: bytes('"test"') }], { firstTimestamp: 1555478494747 }),
    lastOffsetDelta: -1,
    schemaId,
  });
  test.each([
    ["without a schema id", null, 1430948200],
    ["with schema id 42", 42, 2943551365],
  ] as const)("the batch of Fluvio's own test %s has Fluvio's CRC", (_name, schemaId, crc) => {
    const out = encodeBatches([fluvioBatch(schemaId)]);
    expect(new Reader(out, 17).u32()).toBe(crc);
    expect(hex(out.subarray(-15))).toBe(hex(bytes('00000001 14 00 00 00 00 08 "test" 00')));
    expect(decodedWhole(out, decodeRecordBatch)).toEqual({ ...fluvioBatch(schemaId), attributes: schemaId === null ? 0 : 0x10 });
  });

  test("records of every size round-trip, with multi-byte varints", () => {
    const records = [0, 1, 63, 64, 127, 128, 300, 16_384, 70_000].map((size, index) => ({
      key: index % 2 ? null : new Uint8Array(index * 50).fill(index),
      value: new Uint8Array(size).fill(size & 0xff),
      timestampDelta: index * 1000,
    }));
    const original = recordBatch(records, { baseOffset: 2 ** 40, firstTimestamp: Date.now() });
    expect(decodeBatches(encodeBatches([original]))).toEqual([original]);
  });

  test("scanBatches() describes each batch without decoding records", () => {
    const second = recordBatch([{ value: bytes('"x"') }, { value: bytes('"y"') }, { value: bytes('"z"') }], { baseOffset: 7, firstTimestamp: 10 });
    const out = encodeBatches([batch, second]);
    expect(scanBatches(out)).toEqual([
      { start: 0, byteLength: 83, baseOffset: 5, lastOffsetDelta: 1, recordCount: 2, compression: 0, firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_003 },
      { start: 83, byteLength: out.length - 83, baseOffset: 7, lastOffsetDelta: 2, recordCount: 3, compression: 0, firstTimestamp: 10, maxTimestamp: 10 },
    ]);
  });

  test("setBatchBaseOffset() re-bases a batch in place and its CRC still holds", () => {
    const out = encodeBatches([batch, batch]);
    const [, second] = scanBatches(out);
    setBatchBaseOffset(out, second!.start, 1_000_000_007);
    expect(scanBatches(out).map((info) => info.baseOffset)).toEqual([5, 1_000_000_007]);
    expect(decodeBatches(out)[1]!.records).toEqual(batch.records);
  });

  test("a RecordSet is an i32 length and the batches", () => {
    const batches = encodeBatches([batch]);
    const set = encoded((w) => encodeRecordSet(w, batches));
    expect(hex(set.subarray(0, 4))).toBe("00000053");
    expect(decodeBatches(decodedWhole(set, decodeRecordSetBytes))).toEqual([batch]);
    expect(decodedWhole(bytes("00000000"), decodeRecordSetBytes)).toHaveLength(0);
  });

  const tampered: [string, (out: Uint8Array) => Uint8Array, string][] = [
    ["a wrong CRC", (out) => ((out[out.length - 3] ^= 1), out), "cannot decode record batch crc at byte 17: crc is 0x"],
    ["magic 1", (out) => ((out[16] = 1), out), "magic is 1, only 2 is supported"],
    ["a gzip batch whose records are not gzip", (out) => withCrc(((out[22] = 1), out)), "cannot decode gzip records at byte 0: they do not decompress"],
    ["an unknown compression codec", (out) => withCrc(((out[22] = 5), out)), "the batch names compression codec 5, which Fluvio does not have"],
    ["a batch length beyond the bytes", (out) => ((out[11] = 0x60), out), "batch length 96 is outside 49..71"],
    ["a batch length below the header", (out) => ((out[11] = 0x10), out), "batch length 16 is outside"],
    ["a truncated batch", (out) => out.subarray(0, 40), "needs at least 61 bytes, 40 remain"],
    ["a record count beyond the bytes", (out) => withCrc(((out[57] = 0x7f), out)), "count 2130706434 needs more"],
    ["a record length that disagrees with its fields", (out) => withCrc(((out[61] = 0x18), out)), "its fields take 12 byte(s), its length says 13"],
    ["bytes after the last record", (out) => withCrc(((out[60] = 1), out)), "byte(s) follow the last of its 1 record(s)"],
    ["a negative value length", (out) => withCrc(((out[69] = 0x03), out)), "record value length"],
  ];
  test.each(tampered)("decodeRecordBatch() rejects %s with FluvioDecodeError", (_name, tamper, message) => {
    const read = () => decodeRecordBatch(new Reader(tamper(Buffer.from(encodeBatches([batch])))));
    expect(read).toThrow(FluvioDecodeError);
    expect(read).toThrow(message);
  });

  test("scanBatches() rejects a wrong CRC, an unknown codec and a record count that disagrees with the last offset delta", () => {
    const corrupt = Buffer.from(encodeBatches([batch]));
    corrupt[80] ^= 0xff;
    expect(() => scanBatches(corrupt)).toThrow("record batch crc");
    const unknown = Buffer.from(encodeBatches([batch]));
    unknown[22] = 6;
    expect(() => scanBatches(withCrc(unknown))).toThrow("compression codec 6");
    expect(() => scanBatches(encodeBatches([{ ...batch, lastOffsetDelta: 0 }]))).toThrow("holds 2 record(s) but its last offset delta is 0");
    expect(() => scanBatches(encodeBatches([recordBatch([])]))).toThrow("it must hold at least one");
    expect(() => scanBatches(Buffer.concat([encodeBatches([batch]), new Uint8Array(10)]))).toThrow("needs at least 61 bytes, 10 remain");
  });

  test("scanBatches() takes a compressed batch's record count from its last offset delta, without opening it", () => {
    const lz4 = Buffer.from(encodeBatches([batch]));
    lz4[22] = 3;
    lz4.writeUInt32BE(0xffffffff, 57);
    expect(scanBatches(withCrc(lz4))).toMatchObject([{ compression: 3, recordCount: 2, lastOffsetDelta: 1 }]);
  });

  test("decodeRecordSetBytes() rejects a negative length and one beyond the bytes", () => {
    expect(() => decodeRecordSetBytes(new Reader(bytes("ffffffff")))).toThrow("length -1 is negative");
    expect(() => decodeRecordSetBytes(new Reader(bytes("00000010 0000")))).toThrow(FluvioDecodeError);
  });
});
