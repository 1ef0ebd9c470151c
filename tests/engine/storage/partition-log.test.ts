/**
 * Tests of the SPU partition log against real files: batches kept as produced with their base
 * offsets set, reads as slices of whole batches, segment rolling and the sparse index, crash
 * recovery of a torn or corrupt tail, truncation at batch edges for rejoining followers,
 * byte-exact replication, and the per-record format of earlier versions refused.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPartitionLog, type PartitionLog, type PartitionLogOptions } from "../../../lib/engine/storage/partition-log.ts";
import { decodeBatches } from "../../../lib/engine/wire/fluvio/record-batch.ts";
import { batchOf } from "../../batches.ts";

const SMALL_SEGMENTS: PartitionLogOptions = { segmentBytes: 1024, indexIntervalBytes: 128 };

let dir: string;
let open: PartitionLog[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "partition-log-test-"));
  open = [];
});

afterEach(() => {
  for (const log of open) log.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the test partition and closes it after the test. */
function openLog(options: PartitionLogOptions = {}): PartitionLog {
  const log = openPartitionLog(join(dir, "p0"), options);
  open.push(log);
  return log;
}

/** Closes `log` now, e.g. before reopening or damaging its files. */
function closeLog(log: PartitionLog): void {
  log.close();
  open.splice(open.indexOf(log), 1);
}

/** A value whose bytes identify its record, so misplaced data cannot pass for the right one. */
function valueFor(offset: number, length = 20): Uint8Array {
  const value = new Uint8Array(length);
  for (let i = 0; i < length; i++) value[i] = (offset * 31 + i * 7) & 0xff;
  return value;
}

function values(from: number, count: number, length = 20): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => valueFor(from + i, length));
}

/** A batch of `count` records of `length` bytes from offset `from` (the log sets its base offset). */
function batch(from: number, count: number, length = 20): Uint8Array {
  return batchOf(values(from, count, length));
}

/** Bytes a batch of 10 records of 20 bytes takes: 61 of header, 27 a record. */
const BATCH_10 = 331;

function segmentFiles(): string[] {
  return readdirSync(join(dir, "p0")).filter((name) => name.endsWith(".log")).sort();
}

function lastSegmentPath(): string {
  const files = segmentFiles();
  return join(dir, "p0", files[files.length - 1]!);
}

/** [offset, value] of every record in `bytes`, which must be whole batches with their base offsets set. */
function records(bytes: Uint8Array): [number, Uint8Array][] {
  return decodeBatches(bytes).flatMap((decoded) => decoded.records.map((record): [number, Uint8Array] => [decoded.baseOffset + record.offsetDelta, record.value]));
}

/** Reads every record from `from` to the end with small reads, checking slices continue each other. */
function readAll(log: PartitionLog, from = 0, maxBytes = 300): Uint8Array[] {
  const out: Uint8Array[] = [];
  let next = from;
  while (next < log.endOffset) {
    const slice = log.read(next, { maxBytes });
    expect(slice.bytes.byteLength).toBeGreaterThan(0);
    expect(slice.baseOffset).toBeLessThanOrEqual(next);
    const got = records(slice.bytes);
    expect(got[0]![0]).toBe(slice.baseOffset);
    expect(got.at(-1)![0]).toBe(slice.nextOffset - 1);
    for (const [offset, value] of got) if (offset >= next) out.push(value);
    next = slice.nextOffset;
  }
  return out;
}

describe("PartitionLog", () => {
  test("PartitionLog.append() assigns dense offsets from 0 and sets each batch's base offset", () => {
    const log = openLog();
    expect(log.endOffset).toBe(0);
    expect(log.startOffset).toBe(0);
    expect(log.append(batch(0, 3))).toEqual({ baseOffset: 0, lastOffset: 2 });
    expect(log.append(batch(3, 1))).toEqual({ baseOffset: 3, lastOffset: 3 });
    // Two batches in one append, as a producer may send them
    expect(log.append(Buffer.concat([batch(4, 2), batch(6, 3)]))).toEqual({ baseOffset: 4, lastOffset: 8 });
    expect(log.endOffset).toBe(9);
    const stored = log.read(0, { maxBytes: 1 << 20 }).bytes;
    expect(decodeBatches(stored).map((decoded) => decoded.baseOffset)).toEqual([0, 3, 4, 6]);
    expect(records(stored).map(([offset]) => offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.sizeBytes()).toBe(stored.byteLength);
  });

  test("PartitionLog.append() keeps a batch byte for byte but for its base offset", () => {
    const log = openLog();
    log.append(batch(0, 2));
    const produced = batch(2, 3);
    log.append(produced.slice());
    const stored = log.read(2, { maxBytes: 1 << 20 }).bytes;
    expect(stored.subarray(8)).toEqual(produced.subarray(8));
    expect(Buffer.from(stored).readBigInt64BE(0)).toBe(2n);
  });

  test("PartitionLog.append() rejects no bytes and bytes that are not whole batches, storing nothing", () => {
    const log = openLog();
    expect(() => log.append(new Uint8Array(0))).toThrow("cannot append an empty batch");
    const whole = batch(0, 3);
    expect(() => log.append(Buffer.concat([whole, whole.subarray(0, 40)]))).toThrow("batches rejected: a partial batch header");
    expect(() => log.append(whole.subarray(0, whole.length - 1))).toThrow("more than remain");
    expect(log.endOffset).toBe(0);
    expect(log.sizeBytes()).toBe(0);
  });

  test("PartitionLog.read() returns whole batches from the one holding the offset, within maxBytes", () => {
    const log = openLog();
    for (let b = 0; b < 4; b++) log.append(batch(b * 10, 10));
    // Offset 15 is in the batch at 10: the slice starts there
    const slice = log.read(15, { maxBytes: 2 * BATCH_10 });
    expect([slice.baseOffset, slice.nextOffset, slice.bytes.byteLength]).toEqual([10, 30, 2 * BATCH_10]);
    expect(log.read(15, { maxBytes: 2 * BATCH_10 - 1 }).nextOffset).toBe(20);
  });

  test("PartitionLog.read() returns the first batch even when it exceeds maxBytes", () => {
    const log = openLog({ indexIntervalBytes: 64 });
    log.append(batchOf([valueFor(0, 50_000), valueFor(1, 10)]));
    log.append(batch(2, 1));
    const slice = log.read(1, { maxBytes: 1 });
    expect([slice.baseOffset, slice.nextOffset]).toEqual([0, 2]);
    expect(records(slice.bytes).map(([, value]) => value)).toEqual([valueFor(0, 50_000), valueFor(1, 10)]);
  });

  test("PartitionLog.read() stops before a batch that ends above upTo", () => {
    const log = openLog();
    for (let b = 0; b < 3; b++) log.append(batch(b * 10, 10));
    expect(log.read(0, { maxBytes: 1 << 20, upTo: 20 }).nextOffset).toBe(20);
    expect(log.read(0, { maxBytes: 1 << 20, upTo: 25 }).nextOffset).toBe(20);
    const none = log.read(20, { maxBytes: 1 << 20, upTo: 20 });
    expect([none.bytes.byteLength, none.baseOffset, none.nextOffset]).toEqual([0, 20, 20]);
  });

  test("PartitionLog.read() with headroom leaves that many free bytes before the slice in its buffer", () => {
    const log = openLog();
    for (let b = 0; b < 3; b++) log.append(batch(b * 10, 10));
    for (const offset of [0, 12, 29]) {
      const slice = log.read(offset, { maxBytes: 1 << 20, headroom: 40 });
      expect(slice.bytes.byteOffset).toBeGreaterThanOrEqual(40);
      expect(records(slice.bytes)[0]![0]).toBe(Math.floor(offset / 10) * 10);
    }
  });

  test("PartitionLog.read() at the end offset returns no bytes", () => {
    const log = openLog();
    expect(log.read(0, { maxBytes: 1000 }).bytes.byteLength).toBe(0);
    log.append(batch(0, 10));
    expect(log.read(10, { maxBytes: 1000 })).toMatchObject({ baseOffset: 10, nextOffset: 10 });
    expect(log.read(10, { maxBytes: 1000 }).bytes.byteLength).toBe(0);
  });

  test.each([
    [11, "offset 11 is past the end of the log (10)"],
    [-1, "offset -1 is before the start of the log (0)"],
    [1.5, "offset must be an integer, got 1.5"],
  ])("PartitionLog.read(%p) throws a clear error", (offset, message) => {
    const log = openLog();
    log.append(batch(0, 10));
    expect(() => log.read(offset, { maxBytes: 1000 })).toThrow(message);
  });

  test("PartitionLog rolls segments named by zero-padded base offset", () => {
    const log = openLog(SMALL_SEGMENTS);
    // 331-byte batches: three fit in a 1024-byte segment and a fourth rolls
    for (let b = 0; b < 7; b++) log.append(batch(b * 10, 10));
    expect(segmentFiles()).toEqual(["00000000000000000000.log", "00000000000000000030.log", "00000000000000000060.log"]);
    for (const file of segmentFiles()) {
      expect(statSync(join(dir, "p0", file)).size).toBeLessThanOrEqual(1024);
      expect(existsSync(join(dir, "p0", file.replace(".log", ".index")))).toBe(true);
    }
    expect(log.sizeBytes()).toBe(7 * BATCH_10);
    expect(readFileSync(join(dir, "p0", "log-format"), "utf8")).toBe("batches 1\n");
  });

  test.each([0, 1, 7, 19, 20, 29, 30, 31, 55, 60, 69])("PartitionLog.read(%p) with tiny segments returns the right records across boundaries", (from) => {
    const log = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 7; b++) log.append(batch(b * 10, 10));
    expect(readAll(log, from)).toEqual(values(from, 70 - from));
    // A big read ends at its segment's end: one slice of one file
    const slice = log.read(from, { maxBytes: 1 << 20 });
    expect(slice.nextOffset).toBe(from < 30 ? 30 : from < 60 ? 60 : 70);
    expect(readAll(log, from, 1 << 20)).toEqual(values(from, 70 - from));
  });

  test("PartitionLog index files hold sparse entries at batch starts that reads start from", () => {
    const log = openLog({ indexIntervalBytes: 300 });
    for (let b = 0; b < 10; b++) log.append(batch(b * 10, 10));
    const index = readFileSync(join(dir, "p0", "00000000000000000000.index"));
    expect(index.length).toBe(9 * 8);
    expect([index.readUInt32LE(0), index.readUInt32LE(4)]).toEqual([10, BATCH_10]);
    expect([index.readUInt32LE(64), index.readUInt32LE(68)]).toEqual([90, 9 * BATCH_10]);
    expect(log.read(37, { maxBytes: 1 }).baseOffset).toBe(30);
    expect(readAll(log, 37)).toEqual(values(37, 63));
  });

  test("PartitionLog reopen preserves every record and keeps appending at the end", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 5; b++) first.append(batch(b * 10, 10));
    closeLog(first);

    const second = openLog(SMALL_SEGMENTS);
    expect(second.recovery).toEqual({ segment: "00000000000000000030.log", truncatedBytes: 0, validEndOffset: 50, reason: null });
    expect(second.endOffset).toBe(50);
    expect(readAll(second)).toEqual(values(0, 50));
    expect(second.append(batch(50, 10))).toEqual({ baseOffset: 50, lastOffset: 59 });
    expect(readAll(second, 45)).toEqual(values(45, 15));
  });

  test("PartitionLog rebuilds a missing or damaged index of a closed segment", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 7; b++) first.append(batch(b * 10, 10));
    closeLog(first);
    rmSync(join(dir, "p0", "00000000000000000000.index"));
    writeFileSync(join(dir, "p0", "00000000000000000030.index"), Buffer.from([1, 2, 3]));

    const second = openLog(SMALL_SEGMENTS);
    expect(readAll(second, 13)).toEqual(values(13, 57));
    expect(readFileSync(join(dir, "p0", "00000000000000000000.index")).length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, "p0", "00000000000000000030.index")).length % 8).toBe(0);
  });

  test.each([
    ["mid-record", 200, /more than remain/],
    ["mid-header", 20, /partial batch header/],
    ["one byte short", BATCH_10 - 1, /more than remain/],
  ])("PartitionLog recovers a torn tail cut %s, dropping the torn batch whole", (_, keepOfLastBatch, reason) => {
    const first = openLog();
    for (let b = 0; b < 3; b++) first.append(batch(b * 10, 10));
    closeLog(first);
    truncateSync(lastSegmentPath(), 2 * BATCH_10 + keepOfLastBatch);

    const second = openLog();
    expect(second.recovery.truncatedBytes).toBe(keepOfLastBatch);
    expect(second.recovery.validEndOffset).toBe(20);
    expect(second.recovery.segment).toBe("00000000000000000000.log");
    expect(second.recovery.reason).toMatch(reason);
    expect(second.recovery.reason).toMatch(/offset 20/);
    expect(second.endOffset).toBe(20);
    expect(statSync(lastSegmentPath()).size).toBe(2 * BATCH_10);
    expect(readAll(second)).toEqual(values(0, 20));
    expect(second.append(batch(20, 1))).toEqual({ baseOffset: 20, lastOffset: 20 });
    expect(readAll(second)).toEqual(values(0, 21));
  });

  test.each([
    ["value byte", 200, /bad CRC in the batch at offset 20/],
    ["CRC byte", 18, /bad CRC in the batch at offset 20/],
    ["attributes byte", 22, /bad CRC in the batch at offset 20/],
    ["base offset byte", 7, /base offset 21 where 20 was expected/],
    ["length byte", 9, /more than remain|batch length/],
    ["magic byte", 16, /magic/],
  ])("PartitionLog detects a flipped %s in the last batch and truncates it", (_, bytePosition, reason) => {
    const first = openLog();
    for (let b = 0; b < 3; b++) first.append(batch(b * 10, 10));
    closeLog(first);
    const path = lastSegmentPath();
    const bytes = readFileSync(path);
    bytes[2 * BATCH_10 + bytePosition] ^= bytePosition === 7 ? 0x01 : 0xff;
    writeFileSync(path, bytes);

    const second = openLog();
    expect(second.recovery.truncatedBytes).toBe(BATCH_10);
    expect(second.recovery.validEndOffset).toBe(20);
    expect(second.recovery.reason).toMatch(reason);
    expect(readAll(second)).toEqual(values(0, 20));
  });

  test("PartitionLog recovery only checks the last segment and keeps earlier ones whole", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 5; b++) first.append(batch(b * 10, 10));
    closeLog(first);
    truncateSync(lastSegmentPath(), BATCH_10 + 3); // the last segment starts at offset 30

    const second = openLog(SMALL_SEGMENTS);
    expect(second.recovery).toEqual({
      segment: "00000000000000000030.log",
      truncatedBytes: 3,
      validEndOffset: 40,
      reason: "a partial batch header at offset 40",
    });
    expect(readAll(second)).toEqual(values(0, 40));
  });

  test("PartitionLog.read() throws on a closed segment whose batches do not continue each other", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 5; b++) first.append(batch(b * 10, 10));
    closeLog(first);
    const path = join(dir, "p0", "00000000000000000000.log");
    const bytes = readFileSync(path);
    bytes[BATCH_10 + 7] ^= 0x01;
    writeFileSync(path, bytes);

    const second = openLog(SMALL_SEGMENTS);
    expect(second.read(0, { maxBytes: BATCH_10 }).nextOffset).toBe(10);
    expect(() => second.read(12, { maxBytes: 1000 })).toThrow("corrupt segment 00000000000000000000.log: a batch holds base offset 11 where 10 was expected");
  });

  test.each([
    ["at a batch start in the active segment", 60, 60, [0, 30, 60]],
    ["inside a batch, dropping it whole", 67, 60, [0, 30, 60]],
    ["at a segment base", 30, 30, [0, 30]],
    ["inside an earlier segment", 27, 20, [0]],
    ["to the very start", 0, 0, [0]],
    ["to the end (no-op)", 70, 70, [0, 30, 60]],
  ])("PartitionLog.truncateTo() %s drops later batches and later segments", (_, offset, end, bases) => {
    const log = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 7; b++) log.append(batch(b * 10, 10));
    expect(log.truncateTo(offset)).toBe(end);
    expect(log.endOffset).toBe(end);
    expect(log.sizeBytes()).toBe((end / 10) * BATCH_10);
    expect(readAll(log)).toEqual(values(0, end));
    expect(() => log.read(end + 1, { maxBytes: 100 })).toThrow(`offset ${end + 1} is past the end of the log (${end})`);
    expect(segmentFiles().map((file) => Number(file.slice(0, 20)))).toEqual(bases);

    // New records replace the dropped ones, and all of it survives a reopen
    const replacement = Array.from({ length: 15 }, (_, i) => Buffer.from(`new-${end + i}`));
    expect(log.append(batchOf(replacement))).toEqual({ baseOffset: end, lastOffset: end + 14 });
    closeLog(log);
    const reopened = openLog(SMALL_SEGMENTS);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expect(reopened.endOffset).toBe(end + 15);
    const all = readAll(reopened);
    expect(all.slice(0, end)).toEqual(values(0, end));
    expect(all.slice(end).map((value) => Buffer.from(value).toString())).toEqual(replacement.map((value) => value.toString()));
  });

  test("PartitionLog.truncateTo() rejects an offset past the end", () => {
    const log = openLog();
    log.append(batch(0, 5));
    expect(() => log.truncateTo(6)).toThrow("offset 6 is past the end of the log (5)");
    expect(log.endOffset).toBe(5);
  });

  test("PartitionLog.read() output replicates byte-exact through appendRaw()", () => {
    const leader = openLog(SMALL_SEGMENTS);
    for (let b = 0; b < 7; b++) leader.append(batch(b * 10, 10));
    const follower = openPartitionLog(join(dir, "follower"), SMALL_SEGMENTS);
    open.push(follower);
    let next = 0;
    while (next < leader.endOffset) {
      const slice = leader.read(next, { maxBytes: 500 });
      expect(follower.appendRaw(slice.bytes)).toEqual({ baseOffset: next, lastOffset: slice.nextOffset - 1 });
      next = slice.nextOffset;
    }
    expect(readAll(follower)).toEqual(values(0, 70));
    for (const from of [0, 30, 60]) expect(follower.read(from, { maxBytes: 1 << 20 }).bytes).toEqual(leader.read(from, { maxBytes: 1 << 20 }).bytes);
  });

  test("PartitionLog.appendRaw() rejects batches at the wrong offset or with a bad CRC, storing none of them", () => {
    const leader = openLog();
    for (let b = 0; b < 3; b++) leader.append(batch(b * 10, 10));
    const follower = openPartitionLog(join(dir, "follower"));
    open.push(follower);
    expect(() => follower.appendRaw(leader.read(10, { maxBytes: 1000 }).bytes)).toThrow(
      "replicated batches rejected: a batch holds base offset 10 where 0 was expected",
    );
    const damaged = leader.read(0, { maxBytes: 1000 }).bytes.slice();
    damaged[BATCH_10 + 100] ^= 0xff;
    expect(() => follower.appendRaw(damaged)).toThrow("replicated batches rejected: bad CRC in the batch at offset 10");
    expect(() => follower.appendRaw(damaged.subarray(0, 30))).toThrow("replicated batches rejected: a partial batch header at offset 0");
    expect(follower.endOffset).toBe(0);
  });

  test("PartitionLog round-trips 10,000 records of varied sizes byte-exact, before and after reopen", () => {
    const options = { segmentBytes: 512 * 1024 };
    const log = openLog(options);
    const sizes = [0, 1, 15, 16, 17, 100, 4095, 4096, 4097, 100 * 1024];
    const expected: Uint8Array[] = [];
    let seed = 12345;
    for (let offset = 0; offset < 10_000; offset++) {
      // Mostly small values with every listed size mixed in, deterministically
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const length = offset % 97 === 0 ? sizes[(offset / 97) % sizes.length]! : seed % 300;
      const value = new Uint8Array(length);
      for (let i = 0; i < length; i++) value[i] = (seed >>> (i % 24)) & 0xff;
      expected.push(value);
    }
    // Batches of 1 to 250 records
    for (let from = 0, size = 1; from < expected.length; from += size, size = (size * 7) % 250 || 1) log.append(batchOf(expected.slice(from, from + size)));
    expect(log.endOffset).toBe(10_000);
    expect(segmentFiles().length).toBeGreaterThan(1);

    const check = (target: PartitionLog) => {
      const got = readAll(target, 0, 64 * 1024);
      expect(got.length).toBe(expected.length);
      for (let i = 0; i < expected.length; i++) {
        if (Buffer.compare(got[i]!, expected[i]!) !== 0) throw new Error(`record ${i} differs`);
      }
    };
    check(log);
    closeLog(log);
    const reopened = openLog(options);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    check(reopened);
    // Spot reads straight into the middle land on the batch holding the record
    for (const offset of [1, 97 * 7, 5000, 9999]) {
      const found = records(reopened.read(offset, { maxBytes: 0 }).bytes).find(([at]) => at === offset);
      expect(Buffer.compare(found![1], expected[offset]!)).toBe(0);
    }
  });

  test("openPartitionLog() refuses a directory in the per-record format of earlier versions", () => {
    mkdirSync(join(dir, "p0"));
    writeFileSync(join(dir, "p0", "00000000000000000000.log"), Buffer.alloc(36));
    expect(() => openLog()).toThrow("is in the per-record format of earlier versions");
  });

  test("PartitionLog rejects use after close()", () => {
    const log = openLog();
    log.append(batch(0, 1));
    closeLog(log);
    expect(() => log.append(batch(1, 1))).toThrow(/is closed/);
    expect(() => log.read(0, { maxBytes: 100 })).toThrow(/is closed/);
  });

  test.each([
    [{ segmentBytes: 0 }, "segmentBytes must be an integer between 1 and 2147483648, got 0"],
    [{ indexIntervalBytes: 1.5 }, "indexIntervalBytes must be an integer between 1 and 2147483648, got 1.5"],
  ])("openPartitionLog(%p) rejects invalid options", (options, message) => {
    expect(() => openPartitionLog(join(dir, "p0"), options)).toThrow(message);
  });
});
