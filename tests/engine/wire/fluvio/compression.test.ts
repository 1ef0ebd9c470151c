/**
 * Compressed batches end to end: `cluster produce --compression` sends each codec as Fluvio's
 * producer frames it, the SPUs store and replicate the batches compressed (the log holds the
 * codec's bytes, not the records), `cluster consume` reads all four, and a topic's compression
 * type is enforced as Fluvio's SPU does (CompressionError).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CODECS } from "../../../../lib/engine/wire/fluvio/compression.ts";
import { compressBatch, decodeBatches, scanBatches } from "../../../../lib/engine/wire/fluvio/record-batch.ts";
import { batchOf } from "../../../batches.ts";
import { ok, partitionDir } from "../../../cluster-data.ts";
import { cli, portBlocks, tempHome } from "../../../helpers.ts";

const nextPortBase = portBlocks(20000);

describe("compressBatch()", () => {
  test.each(CODECS)("compressBatch(%p) gives a batch that decodes to the same records, with the codec in its attributes", (codec) => {
    const values = Array.from({ length: 500 }, (_, i) => `record ${i} ${"x".repeat(i % 40)}`);
    const plain = batchOf(values);
    const compressed = compressBatch(plain, codec);
    expect(compressed.byteLength).toBeLessThan(plain.byteLength / 2);
    expect(scanBatches(compressed)).toMatchObject([{ compression: CODECS.indexOf(codec) + 1, recordCount: 500 }]);
    expect(decodeBatches(compressed)[0]!.records.map((record) => Buffer.from(record.value).toString())).toEqual(values);
  });
});

describe("compressed topics", () => {
  test("each codec produced by `cluster produce --compression` is stored compressed on every replica and read back by `cluster consume`", async () => {
    const home = tempHome();
    await ok(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())]);
    await ok(home, ["topic", "create", "packed", "--replication", "2"]);
    const expected: string[] = [];
    for (const codec of CODECS) {
      const lines = Array.from({ length: 300 }, (_, i) => `${codec} line ${i} ${"repeated text ".repeat(5)}`);
      await ok(home, ["produce", "packed", "--compression", codec], `${lines.join("\n")}\n`);
      expected.push(...lines);
    }
    expect((await ok(home, ["consume", "packed", "-B", "-d"])).stdout).toBe(`${expected.join("\n")}\n`);
    // From an offset inside a compressed batch: the records below it are skipped
    expect((await ok(home, ["consume", "packed", "--offset", "450", "-d"])).stdout).toBe(`${expected.slice(450).join("\n")}\n`);
    await ok(home, ["shutdown"]);
    for (const spu of [5001, 5002]) {
      const dir = partitionDir(home, spu, "packed");
      const segment = readFileSync(join(dir, readdirSync(dir).find((file) => file.endsWith(".log"))!));
      const codecs = new Set(scanBatches(segment).map((batch) => batch.compression));
      expect([...codecs].sort()).toEqual([1, 2, 3, 4]);
      expect(segment.includes(Buffer.from("repeated text repeated text"))).toBe(false);
    }
  });

  test("a topic of compression type gzip takes gzip batches and refuses others with COMPRESSION_MISMATCH, storing nothing of them", async () => {
    const home = tempHome();
    await ok(home, ["create", "--spus", "1", "--port-base", String(nextPortBase())]);
    await ok(home, ["topic", "create", "gz", "--compression-type", "gzip"]);
    await ok(home, ["produce", "gz", "--compression", "gzip"], "kept\n");
    for (const args of [["--compression", "lz4"], []]) {
      const refused = await cli(home, ["produce", "gz", ...args, "--json"], { input: "refused\n" });
      expect(refused.exitCode).toBe(1);
      expect(refused.json.error.code).toBe("COMPRESSION_MISMATCH");
    }
    expect((await ok(home, ["consume", "gz", "-B", "-d"])).stdout).toBe("kept\n");
  });
});
