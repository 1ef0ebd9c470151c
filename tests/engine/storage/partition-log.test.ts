/**
 * Tests of the SPU partition log against real files: offsets, segment rolling
 * and the sparse index, crash recovery of a torn or corrupt tail, truncation
 * for rejoining followers, and byte-exact round trips.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FRAME_HEADER_BYTES, openPartitionLog, type PartitionLog, type PartitionLogOptions } from "../../../lib/engine/storage/partition-log.ts";

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

function text(value: Uint8Array): string {
  return Buffer.from(value).toString();
}

function segmentFiles(): string[] {
  return readdirSync(join(dir, "p0")).filter((name) => name.endsWith(".log")).sort();
}

function lastSegmentPath(): string {
  const files = segmentFiles();
  return join(dir, "p0", files[files.length - 1]);
}

/** Reads every record from `from` to the end with small reads, checking offsets come back dense. */
function readAll(log: PartitionLog, from = 0, maxBytes = 300): Uint8Array[] {
  const out: Uint8Array[] = [];
  let next = from;
  while (next < log.endOffset) {
    const { records, nextOffset } = log.read(next, maxBytes);
    expect(records.length).toBeGreaterThan(0);
    records.forEach((record, i) => expect(record.offset).toBe(next + i));
    expect(nextOffset).toBe(next + records.length);
    for (const record of records) out.push(record.value);
    next = nextOffset;
  }
  return out;
}

describe("PartitionLog", () => {
  test("PartitionLog.append() assigns dense offsets from 0", () => {
    const log = openLog();
    expect(log.endOffset).toBe(0);
    expect(log.startOffset).toBe(0);
    expect(log.append(values(0, 3))).toEqual({ baseOffset: 0, lastOffset: 2 });
    expect(log.append(values(3, 1))).toEqual({ baseOffset: 3, lastOffset: 3 });
    expect(log.append(values(4, 5))).toEqual({ baseOffset: 4, lastOffset: 8 });
    expect(log.endOffset).toBe(9);
    expect(log.sizeBytes()).toBe(9 * (FRAME_HEADER_BYTES + 20));
    expect(log.read(0, 1 << 20).records.map((record) => record.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test("PartitionLog.append() rejects an empty batch", () => {
    const log = openLog();
    expect(() => log.append([])).toThrow("cannot append an empty batch");
    expect(log.endOffset).toBe(0);
  });

  test("PartitionLog.read() returns the values written, whole records within maxBytes", () => {
    const log = openLog();
    log.append([Buffer.from("alpha"), Buffer.from("beta"), Buffer.from("gamma")]);
    // "alpha" and "beta" frames take 21 + 20 bytes; "gamma" would not fit in 45
    const { records, nextOffset } = log.read(0, 45);
    expect(records.map((record) => text(record.value))).toEqual(["alpha", "beta"]);
    expect(nextOffset).toBe(2);
    expect(log.read(2, 45).records.map((record) => text(record.value))).toEqual(["gamma"]);
  });

  test("PartitionLog.read() returns the first record even when it exceeds maxBytes", () => {
    const log = openLog();
    log.append([valueFor(0, 5000), valueFor(1, 10)]);
    const { records, nextOffset } = log.read(0, 1);
    expect(records).toHaveLength(1);
    expect(records[0].value).toEqual(valueFor(0, 5000));
    expect(nextOffset).toBe(1);
  });

  test("PartitionLog.read() at the end offset returns no records", () => {
    const log = openLog();
    expect(log.read(0, 1000)).toEqual({ records: [], nextOffset: 0 });
    log.append(values(0, 10));
    expect(log.read(10, 1000)).toEqual({ records: [], nextOffset: 10 });
  });

  test.each([
    [11, "offset 11 is past the end of the log (10)"],
    [12, "offset 12 is past the end of the log (10)"],
    [-1, "offset -1 is before the start of the log (0)"],
    [1.5, "offset must be an integer, got 1.5"],
  ])("PartitionLog.read(%p) throws a clear error", (offset, message) => {
    const log = openLog();
    log.append(values(0, 10));
    expect(() => log.read(offset, 1000)).toThrow(message);
  });

  test("PartitionLog rolls segments named by zero-padded base offset", () => {
    const log = openLog(SMALL_SEGMENTS);
    // 36-byte frames, 10 per batch: 360 bytes, so two batches fit in a 1024-byte segment and a third rolls
    for (let batch = 0; batch < 7; batch++) log.append(values(batch * 10, 10));
    expect(segmentFiles()).toEqual([
      "00000000000000000000.log",
      "00000000000000000020.log",
      "00000000000000000040.log",
      "00000000000000000060.log",
    ]);
    for (const file of segmentFiles()) {
      expect(statSync(join(dir, "p0", file)).size).toBeLessThanOrEqual(1024);
      expect(existsSync(join(dir, "p0", file.replace(".log", ".index")))).toBe(true);
    }
    expect(log.sizeBytes()).toBe(70 * 36);
  });

  test.each([0, 1, 7, 19, 20, 21, 39, 40, 55, 60, 69, 70])(
    "PartitionLog.read(%p) with tiny segments returns the right records across boundaries",
    (from) => {
      const log = openLog(SMALL_SEGMENTS);
      for (let batch = 0; batch < 7; batch++) log.append(values(batch * 10, 10));
      expect(readAll(log, from)).toEqual(values(from, 70 - from));
      // One big read spans every later segment
      const { records, nextOffset } = log.read(from, 1 << 20);
      expect(records.map((record) => record.offset)).toEqual(Array.from({ length: 70 - from }, (_, i) => from + i));
      expect(nextOffset).toBe(70);
    },
  );

  test("PartitionLog index files hold sparse entries that reads can start from", () => {
    const log = openLog({ indexIntervalBytes: 100 });
    log.append(values(0, 50, 84)); // 100-byte frames: an index entry before every record but the first
    const index = readFileSync(join(dir, "p0", "00000000000000000000.index"));
    expect(index.length).toBe(49 * 8);
    expect([index.readUInt32LE(0), index.readUInt32LE(4)]).toEqual([1, 100]);
    expect([index.readUInt32LE(48 * 8), index.readUInt32LE(48 * 8 + 4)]).toEqual([49, 4900]);
    expect(log.read(37, 100).records[0].value).toEqual(valueFor(37, 84));
  });

  test("PartitionLog reopen preserves every record and keeps appending at the end", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 5; batch++) first.append(values(batch * 10, 10));
    closeLog(first);

    const second = openLog(SMALL_SEGMENTS);
    expect(second.recovery).toEqual({
      segment: "00000000000000000040.log",
      truncatedBytes: 0,
      validEndOffset: 50,
      reason: null,
    });
    expect(second.endOffset).toBe(50);
    expect(readAll(second)).toEqual(values(0, 50));
    expect(second.append(values(50, 10))).toEqual({ baseOffset: 50, lastOffset: 59 });
    expect(readAll(second, 45)).toEqual(values(45, 15));
  });

  test("PartitionLog rebuilds a missing or damaged index of a closed segment", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 5; batch++) first.append(values(batch * 10, 10));
    closeLog(first);
    rmSync(join(dir, "p0", "00000000000000000000.index"));
    writeFileSync(join(dir, "p0", "00000000000000000020.index"), Buffer.from([1, 2, 3]));

    const second = openLog(SMALL_SEGMENTS);
    expect(readAll(second, 13)).toEqual(values(13, 37));
    expect(readFileSync(join(dir, "p0", "00000000000000000000.index")).length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, "p0", "00000000000000000020.index")).length % 8).toBe(0);
  });

  test.each([
    ["mid-value", 36 + 30, 30],
    ["mid-header", 36 + 10, 10],
    ["one byte short", 36 + 35, 35],
  ])("PartitionLog recovers a torn tail cut %s", (_, keepOfLastFrame, truncatedBytes) => {
    const first = openLog();
    first.append(values(0, 8));
    first.append(values(8, 2));
    closeLog(first);
    // 10 frames of 36 bytes; keep 9 whole frames and part of the 10th
    truncateSync(lastSegmentPath(), 8 * 36 + keepOfLastFrame);

    const second = openLog();
    expect(second.recovery.truncatedBytes).toBe(truncatedBytes);
    expect(second.recovery.validEndOffset).toBe(9);
    expect(second.recovery.segment).toBe("00000000000000000000.log");
    expect(second.recovery.reason).toMatch(/offset 9/);
    expect(second.endOffset).toBe(9);
    expect(statSync(lastSegmentPath()).size).toBe(9 * 36);
    expect(readAll(second)).toEqual(values(0, 9));
    expect(second.append(values(9, 1))).toEqual({ baseOffset: 9, lastOffset: 9 });
    expect(readAll(second)).toEqual(values(0, 10));
  });

  test.each([
    ["value byte", 36 * 9 + 20, /bad CRC in frame of offset 9/],
    ["CRC byte", 36 * 9 + 5, /bad CRC in frame of offset 9/],
    ["offset byte", 36 * 9 + 8, /bad CRC in frame of offset 9/],
    ["length byte", 36 * 9 + 1, /frame of offset 9 claims/],
  ])("PartitionLog detects a flipped %s in the last record and truncates it", (_, bytePosition, reason) => {
    const first = openLog();
    first.append(values(0, 10));
    closeLog(first);
    const path = lastSegmentPath();
    const bytes = readFileSync(path);
    bytes[bytePosition] ^= 0xff;
    writeFileSync(path, bytes);

    const second = openLog();
    expect(second.recovery.truncatedBytes).toBe(36);
    expect(second.recovery.validEndOffset).toBe(9);
    expect(second.recovery.reason).toMatch(reason);
    expect(readAll(second)).toEqual(values(0, 9));
  });

  test("PartitionLog recovery only checks the last segment and keeps earlier ones whole", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 5; batch++) first.append(values(batch * 10, 10));
    closeLog(first);
    truncateSync(lastSegmentPath(), 36 * 4 + 3); // last segment starts at offset 40

    const second = openLog(SMALL_SEGMENTS);
    expect(second.recovery).toEqual({
      segment: "00000000000000000040.log",
      truncatedBytes: 3,
      validEndOffset: 44,
      reason: "partial frame header at offset 44",
    });
    expect(readAll(second)).toEqual(values(0, 44));
  });

  test("PartitionLog.read() throws on a corrupt record in a closed segment instead of returning it", () => {
    const first = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 5; batch++) first.append(values(batch * 10, 10));
    closeLog(first);
    const path = join(dir, "p0", "00000000000000000000.log");
    const bytes = readFileSync(path);
    bytes[36 * 3 + 20] ^= 0x01;
    writeFileSync(path, bytes);

    const second = openLog(SMALL_SEGMENTS);
    expect(second.read(0, 36 * 3).records).toHaveLength(3);
    expect(() => second.read(3, 1000)).toThrow("corrupt segment 00000000000000000000.log: bad CRC in frame of offset 3");
  });

  test.each([
    ["within the active segment", 65, [0, 20, 40, 60]],
    ["at a segment base", 40, [0, 20, 40]],
    ["inside an earlier segment", 27, [0, 20]],
    ["to the very start", 0, [0]],
    ["to the end (no-op)", 70, [0, 20, 40, 60]],
  ])("PartitionLog.truncateTo() %s drops later records and later segments", (_, offset, bases) => {
    const log = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 7; batch++) log.append(values(batch * 10, 10));
    log.truncateTo(offset);
    expect(log.endOffset).toBe(offset);
    expect(log.sizeBytes()).toBe(offset * 36);
    expect(readAll(log)).toEqual(values(0, offset));
    expect(() => log.read(offset + 1, 100)).toThrow(`offset ${offset + 1} is past the end of the log (${offset})`);
    expect(segmentFiles().map((file) => Number(file.slice(0, 20)))).toEqual(bases);

    // New records replace the dropped ones, and all of it survives a reopen
    const replacement = Array.from({ length: 15 }, (_, i) => Buffer.from(`new-${offset + i}`));
    expect(log.append(replacement)).toEqual({ baseOffset: offset, lastOffset: offset + 14 });
    closeLog(log);
    const reopened = openLog(SMALL_SEGMENTS);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expect(reopened.endOffset).toBe(offset + 15);
    const all = readAll(reopened);
    expect(all.slice(0, offset)).toEqual(values(0, offset));
    expect(all.slice(offset).map(text)).toEqual(replacement.map((value) => value.toString()));
  });

  test("PartitionLog.truncateTo() rejects an offset past the end", () => {
    const log = openLog();
    log.append(values(0, 5));
    expect(() => log.truncateTo(6)).toThrow("offset 6 is past the end of the log (5)");
    expect(log.endOffset).toBe(5);
  });

  test("PartitionLog.readRaw() output replicates byte-exact through appendRaw()", () => {
    const leader = openLog(SMALL_SEGMENTS);
    for (let batch = 0; batch < 7; batch++) leader.append(values(batch * 10, 10));
    const follower = openPartitionLog(join(dir, "follower"), SMALL_SEGMENTS);
    open.push(follower);
    let next = 0;
    while (next < leader.endOffset) {
      const raw = leader.readRaw(next, 500);
      expect(raw.count).toBe(raw.nextOffset - next);
      expect(follower.appendRaw(raw.bytes)).toEqual({ baseOffset: next, lastOffset: raw.nextOffset - 1 });
      next = raw.nextOffset;
    }
    expect(readAll(follower)).toEqual(values(0, 70));
    expect(follower.readRaw(0, 1 << 20).bytes).toEqual(leader.readRaw(0, 1 << 20).bytes);
  });

  test("PartitionLog.appendRaw() rejects frames at the wrong offset or with a bad CRC", () => {
    const leader = openLog();
    leader.append(values(0, 5));
    const follower = openPartitionLog(join(dir, "follower"));
    open.push(follower);
    expect(() => follower.appendRaw(leader.readRaw(2, 1000).bytes)).toThrow(
      "raw batch rejected: frame holds offset 2 where 0 was expected",
    );
    const damaged = leader.readRaw(0, 1000).bytes.slice();
    damaged[36 + 20] ^= 0xff;
    expect(() => follower.appendRaw(damaged)).toThrow("raw batch rejected: bad CRC in frame of offset 1");
    expect(() => follower.appendRaw(damaged.subarray(0, 30))).toThrow("raw batch rejected: frame of offset 0 claims 20 bytes, more than remain");
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
      const length = offset % 97 === 0 ? sizes[(offset / 97) % sizes.length] : seed % 300;
      const value = new Uint8Array(length);
      for (let i = 0; i < length; i++) value[i] = (seed >>> (i % 24)) & 0xff;
      expected.push(value);
    }
    for (let from = 0; from < expected.length; from += 250) log.append(expected.slice(from, from + 250));
    expect(log.endOffset).toBe(10_000);
    expect(segmentFiles().length).toBeGreaterThan(1);

    const check = (target: PartitionLog) => {
      const got = readAll(target, 0, 64 * 1024);
      expect(got.length).toBe(expected.length);
      for (let i = 0; i < expected.length; i++) {
        if (Buffer.compare(got[i], expected[i]) !== 0) throw new Error(`record ${i} differs`);
      }
      expect(got.filter((value) => value.length === 0).length).toBeGreaterThan(0);
      expect(got.filter((value) => value.length === 100 * 1024).length).toBeGreaterThan(0);
    };
    check(log);
    closeLog(log);
    const reopened = openLog(options);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    check(reopened);
    // Spot reads straight into the middle land on the right record
    for (const offset of [1, 97 * 7, 5000, 9999]) {
      expect(Buffer.compare(reopened.read(offset, 0).records[0].value, expected[offset])).toBe(0);
    }
  });

  test("PartitionLog rejects use after close()", () => {
    const log = openLog();
    log.append(values(0, 1));
    closeLog(log);
    expect(() => log.append(values(1, 1))).toThrow(/is closed/);
    expect(() => log.read(0, 100)).toThrow(/is closed/);
  });

  test.each([
    [{ segmentBytes: 0 }, "segmentBytes must be an integer between 1 and 2147483648, got 0"],
    [{ indexIntervalBytes: 1.5 }, "indexIntervalBytes must be an integer between 1 and 2147483648, got 1.5"],
  ])("openPartitionLog(%p) rejects invalid options", (options, message) => {
    expect(() => openPartitionLog(join(dir, "p0"), options)).toThrow(message);
  });
});
