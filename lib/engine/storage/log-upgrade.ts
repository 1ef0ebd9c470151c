/**
 * Converts a partition directory written by the per-record log of earlier versions (one
 * 16-byte-framed entry per record, little-endian, CRC-32 of offset and value, the value being
 * the stored record of stored-records.ts) into the batch log of partition-log.ts, on the SPU's
 * first start after the change. Offsets stay as they were, so the high watermark checkpoint,
 * the leader-epoch history and consumers' offsets stay valid: records are grouped into batches
 * that never cross the high watermark or an epoch's start, which the batch log needs at batch
 * edges.
 *
 * Crash-safe, and resumed where it stopped on the next start:
 *   1. the new log is written to `upgrade.tmp/` and fsynced, then renamed `upgrade/` (the
 *      commit point: from here on the old segments are not needed);
 *   2. the old segments are deleted (with `upgrade/` present and no `log-format` file in the
 *      directory, every segment file beside it is old) and the directory fsynced;
 *   3. `upgrade/log-format` is renamed into the directory (now the segments beside it are new);
 *   4. the new segments are moved in and `upgrade/` removed.
 */
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { fsyncPath } from "../../base/files.ts";
import { batchOfStored } from "../wire/fluvio/stored-records.ts";
import { readHistory } from "./leader-epochs.ts";
import { FORMAT_FILE, isPerRecordFormat, openPartitionLog, SEGMENT_FILE_PATTERN } from "./partition-log.ts";

const OLD_FRAME_HEADER_BYTES = 16;
const TWO_POW_32 = 2 ** 32;
/** A converted batch holds up to this many bytes of stored records. */
const BATCH_BYTES = 256 * 1024;
const UPGRADE_DIR = "upgrade";
const UPGRADE_TEMP_DIR = "upgrade.tmp";
const OLD_INDEX_PATTERN = /^\d{20}\.index$/;

/** An old partition directory that cannot be converted; it is left as it was. */
export class LogUpgradeError extends Error {}

/** What {@link upgradePartitionDir} did. */
export interface UpgradeInfo {
  /** Records converted (0 when a conversion that had written them already was only finished). */
  records: number;
  /** Bytes cut off a torn end of the old log, as the old log would have on open. */
  tornBytes: number;
}

/**
 * Converts partition directory `dir` from the per-record format if it is in it, or finishes a
 * conversion a crash interrupted; returns what it did, or null when there was nothing to do.
 * Throws, leaving the old segments in place, on an old segment that is corrupt before its end.
 */
export function upgradePartitionDir(dir: string): UpgradeInfo | null {
  const committed = join(dir, UPGRADE_DIR);
  if (!existsSync(committed)) {
    if (!isPerRecordFormat(dir)) return null;
    rmSync(join(dir, UPGRADE_TEMP_DIR), { recursive: true, force: true });
    let converted: UpgradeInfo;
    try {
      converted = convert(dir, join(dir, UPGRADE_TEMP_DIR));
    } catch (error) {
      rmSync(join(dir, UPGRADE_TEMP_DIR), { recursive: true, force: true });
      throw error;
    }
    renameSync(join(dir, UPGRADE_TEMP_DIR), committed);
    fsyncPath(dir);
    finish(dir);
    return converted;
  }
  finish(dir);
  return { records: 0, tornBytes: 0 };
}

/** Steps 2 to 4: replaces the old segments of `dir` with those in `dir/upgrade`. */
function finish(dir: string): void {
  const committed = join(dir, UPGRADE_DIR);
  if (!existsSync(join(dir, FORMAT_FILE))) {
    for (const file of readdirSync(dir)) if (SEGMENT_FILE_PATTERN.test(file) || OLD_INDEX_PATTERN.test(file)) unlinkSync(join(dir, file));
    fsyncPath(dir);
    renameSync(join(committed, FORMAT_FILE), join(dir, FORMAT_FILE));
    fsyncPath(dir);
  }
  for (const file of readdirSync(committed)) renameSync(join(committed, file), join(dir, file));
  fsyncPath(dir);
  rmSync(committed, { recursive: true, force: true });
  fsyncPath(dir);
}

/** Step 1: writes the records of the old segments in `dir` as batches into a new log in `target`. */
function convert(dir: string, target: string): UpgradeInfo {
  const segments = readdirSync(dir)
    .filter((file) => SEGMENT_FILE_PATTERN.test(file))
    .sort();
  const history = readHistory(dir);
  const highWatermark = readNumber(join(dir, "high-watermark"));
  // Batches end at these offsets, so the high watermark and epoch starts stay at batch edges.
  const edges = new Set<number>([highWatermark, ...history.map(([, start]) => start)]);
  const log = openPartitionLog(target);
  let records = 0;
  let tornBytes = 0;
  try {
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let pendingBase = Number(segments[0]?.slice(0, 20) ?? 0);
    const flush = () => {
      if (pending.length === 0) return;
      log.appendRaw(batchOfStored(pendingBase, pending));
      pendingBase += pending.length;
      pending = [];
      pendingBytes = 0;
    };
    segments.forEach((file, index) => {
      const last = index === segments.length - 1;
      const base = Number(file.slice(0, 20));
      if (base !== pendingBase + pending.length) throw new LogUpgradeError(`segment ${file} of ${dir} starts at offset ${base}, not ${pendingBase + pending.length}`);
      const result = readOldSegment(join(dir, file), base, (offset, value) => {
        if (edges.has(offset)) flush();
        pending.push(value);
        pendingBytes += value.byteLength;
        if (pendingBytes >= BATCH_BYTES) flush();
        records++;
      });
      if (result.problem !== null) {
        if (!last) throw new LogUpgradeError(`segment ${file} of ${dir} is corrupt before its end (${result.problem}), so it cannot be converted`);
        // Not one whole record: more likely not the old format at all (a batch log that lost its log-format file) than a torn one.
        if (records === 0 && result.tornBytes > 0) throw new LogUpgradeError(`${dir} holds segments in no format this SPU knows (${result.problem})`);
        tornBytes = result.tornBytes;
      }
    });
    flush();
  } finally {
    log.close();
  }
  fsyncPath(target);
  return { records, tornBytes };
}

/** Calls `visit` for each intact record of an old segment, in order; stops at the first torn or corrupt frame and says why. */
function readOldSegment(path: string, base: number, visit: (offset: number, value: Uint8Array) => void): { problem: string | null; tornBytes: number } {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const size = statSync(path).size;
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) done += readSync(fd, bytes, done, size - done, done);
    let position = 0;
    let offset = base;
    while (position < size) {
      const problem = checkOldFrame(bytes, position, offset);
      if (problem !== null) return { problem, tornBytes: size - position };
      const length = bytes.readUInt32LE(position);
      visit(offset, bytes.subarray(position + OLD_FRAME_HEADER_BYTES, position + OLD_FRAME_HEADER_BYTES + length));
      position += OLD_FRAME_HEADER_BYTES + length;
      offset++;
    }
    return { problem: null, tornBytes: 0 };
  } finally {
    closeSync(fd);
  }
}

function checkOldFrame(bytes: Buffer, at: number, expectedOffset: number): string | null {
  if (at + OLD_FRAME_HEADER_BYTES > bytes.length) return `partial frame header at offset ${expectedOffset}`;
  const end = at + OLD_FRAME_HEADER_BYTES + bytes.readUInt32LE(at);
  if (end > bytes.length) return `frame of offset ${expectedOffset} claims more bytes than remain`;
  if (Bun.hash.crc32(bytes.subarray(at + 8, end)) !== bytes.readUInt32LE(at + 4)) return `bad CRC in frame of offset ${expectedOffset}`;
  const offset = bytes.readUInt32LE(at + 8) + bytes.readUInt32LE(at + 12) * TWO_POW_32;
  if (offset !== expectedOffset) return `frame holds offset ${offset} where ${expectedOffset} was expected`;
  return null;
}

function readNumber(path: string): number {
  try {
    const value = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(value) ? value : -1;
  } catch {
    return -1;
  }
}
