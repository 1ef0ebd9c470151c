/**
 * valueLines(): the values `cluster consume` prints, made straight from the batches, agree with
 * what decodeBatches reads from them, compressed or not, keyed or not, from any offset; and
 * what decodeBatches refuses it refuses too.
 */
import { describe, expect, test } from "bun:test";
import { CODECS } from "../../../../lib/engine/wire/fluvio/compression.ts";
import { FluvioDecodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import { compressBatch, encodeRecords, setBatchBaseOffset, valueLines } from "../../../../lib/engine/wire/fluvio/record-batch.ts";
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
