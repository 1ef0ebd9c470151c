/**
 * PartitionLog.evictSegments() against real files: retention by age and by size deletes whole
 * closed segments, oldest first, never the active one; the log then starts later, reads below
 * its start throw, and a reopen sees the same start.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPartitionLog, type PartitionLog } from "../../../lib/engine/storage/partition-log.ts";
import { batchOf, valuesOf } from "../../batches.ts";

let dir: string;
let logs: PartitionLog[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "partition-log-retention-"));
  logs = [];
});

afterEach(() => {
  for (const log of logs) log.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A log of 1 KiB segments holding `count` batches of one 300-byte record each: about three batches a segment. */
function filledLog(count: number): PartitionLog {
  const log = openPartitionLog(join(dir, "p0"), { segmentBytes: 1024 });
  logs.push(log);
  for (let i = 0; i < count; i++) log.append(batchOf([`${i}`.padEnd(300, ".")]));
  log.sync();
  return log;
}

const segmentFiles = () => readdirSync(join(dir, "p0")).filter((file) => file.endsWith(".log")).sort();

describe("PartitionLog.evictSegments()", () => {
  test("deletes the closed segments last written longer ago than the retention, oldest first, and keeps the rest", () => {
    const log = filledLog(10);
    const before = segmentFiles();
    expect(before.length).toBeGreaterThan(2);
    expect(log.evictSegments({ retentionMs: 60_000 })).toBeNull();
    expect(segmentFiles()).toEqual(before);

    const start = log.evictSegments({ retentionMs: 60_000 }, Date.now() + 61_000);
    // Every closed segment is past its retention; the active one stays, with the end offset.
    expect(segmentFiles()).toEqual([before.at(-1)!]);
    expect(start).toBe(Number(before.at(-1)!.slice(0, 20)));
    expect(log.startOffset).toBe(start!);
    expect(log.endOffset).toBe(10);
    expect(valuesOf(log.read(start!, { maxBytes: 1 << 20 }).bytes, start!).map((value) => value.trimEnd().replace(/\.+$/, ""))).toEqual(
      Array.from({ length: 10 - start! }, (_, i) => `${start! + i}`),
    );
    expect(() => log.read(0, { maxBytes: 1024 })).toThrow(/before the start of the log/);
  });

  test("deletes the oldest segments while the log holds more than its maximum size, and no more", () => {
    const log = filledLog(10);
    const sizeBefore = log.sizeBytes();
    const start = log.evictSegments({ maxBytes: sizeBefore - 1 });
    expect(start).toBeGreaterThan(0);
    expect(log.sizeBytes()).toBeLessThanOrEqual(sizeBefore - 1);
    // One segment fewer would do: only the oldest went.
    expect(segmentFiles()[0]).toBe(String(start).padStart(20, "0") + ".log");
    expect(log.evictSegments({ maxBytes: log.sizeBytes() })).toBeNull();
  });

  test("keeps a segment holding records at or above upTo (not yet acknowledged), and those after it", () => {
    const log = filledLog(10);
    const [first, second] = segmentFiles().map((file) => Number(file.slice(0, 20)));
    expect(log.evictSegments({ retentionMs: 1, upTo: second! - 1 }, Date.now() + 10)).toBeNull();
    expect(log.evictSegments({ retentionMs: 1, upTo: second! }, Date.now() + 10)).toBe(second!);
    expect(first).toBe(0);
  });

  test("never deletes the active segment, however old or large", () => {
    const log = filledLog(2);
    expect(segmentFiles()).toHaveLength(1);
    expect(log.evictSegments({ retentionMs: 0, maxBytes: 1 }, Date.now() + 1e9)).toBeNull();
    expect(log.startOffset).toBe(0);
    expect(log.endOffset).toBe(2);
  });

  test("a reopened log starts where retention left it, and appends go on at the end", () => {
    const log = filledLog(10);
    const start = log.evictSegments({ retentionMs: 1 }, Date.now() + 10);
    log.close();
    logs = [];
    const reopened = openPartitionLog(join(dir, "p0"), { segmentBytes: 1024 });
    logs.push(reopened);
    expect(reopened.startOffset).toBe(start!);
    expect(reopened.endOffset).toBe(10);
    expect(reopened.append(batchOf(["next"])).baseOffset).toBe(10);
  });
});

describe("PartitionLog.resetTo()", () => {
  test("empties the log and starts it again at an offset past its end, there after a reopen too", () => {
    const log = filledLog(4);
    log.resetTo(40);
    expect(segmentFiles()).toEqual(["00000000000000000040.log"]);
    expect([log.startOffset, log.endOffset, log.sizeBytes()]).toEqual([40, 40, 0]);
    expect(log.append(batchOf(["after"])).baseOffset).toBe(40);
    log.close();
    logs = [];
    const reopened = openPartitionLog(join(dir, "p0"), { segmentBytes: 1024 });
    logs.push(reopened);
    expect([reopened.startOffset, reopened.endOffset]).toEqual([40, 41]);
    expect(valuesOf(reopened.read(40, { maxBytes: 1024 }).bytes, 40)).toEqual(["after"]);
  });

  test("refuses an offset at or below the end, leaving the log as it was", () => {
    const log = filledLog(4);
    expect(() => log.resetTo(4)).toThrow(/reset only past its end \(4\)/);
    expect([log.startOffset, log.endOffset]).toEqual([0, 4]);
  });
});
