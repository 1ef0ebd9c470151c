/**
 * The data path's fast paths of record-batch.ts agree with the general ones: valueLines() (the
 * values `cluster consume` prints, made straight from the batches) with what decodeBatches reads,
 * compressed or not, keyed or not, from any offset, refusing what it refuses; encodeValueSpans()
 * (`cluster produce`'s batches, made straight from the lines' chunks) with encodeRecords.
 */
import { describe, expect, test } from "bun:test";
import { CODECS } from "../../../../lib/engine/wire/fluvio/compression.ts";
import { FluvioDecodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import { compressBatch, encodeRecords, encodeValueSpans, setBatchBaseOffset, valueLines } from "../../../../lib/engine/wire/fluvio/record-batch.ts";
import { batchOf, valuesOf } from "../../../batches.ts";

/** Batches of 5, 1 and 7 records at offsets 10, 15 and 16, the last with keys. */
function threeBatches(): Uint8Array {
  const keyed = encodeRecords(
    Array.from({ length: 7 }, (_, i) => ({ attributes: 0, timestampDelta: i, key: Buffer.from(`key ${i}`), value: Buffer.from(`keyed ${i}`) })),
    { baseOffset: 0, firstTimestamp: 1_700_000_000_000 },
  );
  const batches = Buffer.concat([batchOf(["a", "bb", "", "line\nwithin", "e"]), batchOf(["single"]), keyed]);
  setBatchBaseOffset(batches, 0, 10);
  const second = batchOf(["a", "bb", "", "line\nwithin", "e"]).byteLength;
  setBatchBaseOffset(batches, second, 15);
  setBatchBaseOffset(batches, second + batchOf(["single"]).byteLength, 16);
  return batches;
}

describe("valueLines()", () => {
  test.each([10, 12, 15, 16, 19, 22, 23])("from offset %p: the values decodeBatches reads there, each with a newline", (from) => {
    const batches = threeBatches();
    const expected = valuesOf(batches, from);
    const { lines, count } = valueLines(batches, from);
    expect(count).toBe(expected.length);
    expect(Buffer.from(lines).toString()).toBe(expected.map((value) => `${value}\n`).join(""));
  });

  test.each(CODECS)("a %p batch's values come out decompressed", (codec) => {
    const values = Array.from({ length: 300 }, (_, i) => `record ${i} ${"z".repeat(i % 30)}`);
    const batch = compressBatch(batchOf(values), codec);
    setBatchBaseOffset(batch, 0, 100);
    expect(Buffer.from(valueLines(batch, 150).lines).toString()).toBe(values.slice(50).map((value) => `${value}\n`).join(""));
  });

  test("a batch whose bytes changed after its CRC was taken is refused, as decodeBatches refuses it", () => {
    const batch = batchOf(["one", "two"]);
    batch[batch.byteLength - 2] ^= 1;
    expect(() => valueLines(batch, 0)).toThrow(FluvioDecodeError);
  });
});

describe("encodeValueSpans()", () => {
  test.each([1, 2, 63, 64, 200])("%p values given as spans of shared chunks encode as encodeRecords encodes them", (count) => {
    const values = Array.from({ length: count }, (_, i) => Buffer.from(`value ${i} ${"v".repeat(i % 150)}`));
    const chunks = [Buffer.from(values.slice(0, count >> 1).join("\n")), Buffer.from(values.slice(count >> 1).join("\n"))];
    const spans = { sources: [] as Buffer[], starts: [] as number[], ends: [] as number[] };
    for (const chunk of chunks) {
      let start = 0;
      for (const value of chunk.byteLength > 0 ? chunk.toString().split("\n") : []) {
        spans.sources.push(chunk);
        spans.starts.push(start);
        spans.ends.push(start + Buffer.byteLength(value));
        start += Buffer.byteLength(value) + 1;
      }
    }
    const options = { baseOffset: 7, firstTimestamp: 1_700_000_000_000 };
    const expected = encodeRecords(
      values.map((value) => ({ attributes: 0, timestampDelta: 0, key: null, value })),
      options,
    );
    expect([...encodeValueSpans(spans, options)]).toEqual([...expected]);
  });
});
