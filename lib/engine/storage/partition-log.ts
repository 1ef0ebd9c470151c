/**
 * Durable, append-only log of one partition, as kept by an SPU: Fluvio's record batches as the
 * producer sent them (a tiny Kafka log, as fluvio-storage keeps it).
 *
 * The SPU appends produced batches to it verbatim, setting only their base offset, fsyncs
 * before acknowledging, serves consumer and follower reads as slices of whole batches, and
 * truncates unacknowledged batches when a former leader rejoins as a follower. Offsets,
 * truncation, the high watermark and leader epochs all move at batch edges. It has to survive a
 * crash at any point: on open, the tail of the last segment is checked batch by batch and
 * anything torn or corrupt is cut off and reported.
 *
 * On-disk layout of a partition directory:
 *
 *   log-format    "batches 1": the format of the segments; a directory of segments without it
 *                 was written in the per-record format before it and is converted on open
 *                 (log-upgrade.ts)
 *   <base>.log    batches whose offsets start at <base>, the base offset zero-padded to 20
 *                 digits; a new segment is rolled when a batch would make the active one
 *                 exceed `segmentBytes`
 *   <base>.index  sparse index of the matching .log: one 8-byte entry at a batch start about
 *                 every `indexIntervalBytes` of log
 *
 *   a batch (big-endian, record-batch.ts): base_offset i64 | batch_len i32 | leader epoch i32 |
 *                 magic i8 = 2 | crc u32 (CRC-32C of attributes to the end) | attributes i16 |
 *                 last_offset_delta i32 | ... records, compressed or not as the producer sent them
 *
 *   index entry (little-endian):
 *     [0, 4)       u32  base offset of a batch relative to the segment's base offset (> 0)
 *     [4, 8)       u32  byte position of that batch in the .log
 *
 * The CRC does not cover the base offset, so the check on open and on replication also asks
 * that each batch's base offset continue its predecessor's: a batch copied to the wrong place
 * fails as surely as a flipped bit. Positions fit in u32 because a segment is capped at 2 GiB.
 * Only the last segment is scanned on open and its index rebuilt; older segments were fsynced
 * when they were rolled, so their index is trusted unless it fails a sanity check, in which
 * case it is rebuilt from the log the first time that segment is read.
 */
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/files.ts";
import { crc32c } from "../wire/fluvio/crc32c.ts";
import { DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES } from "./segment-size.ts";

/** Default number of log bytes between two sparse index entries. */
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096;

/** The file naming the format of a partition directory's segments, and what it holds for this one. */
export const FORMAT_FILE = "log-format";
export const FORMAT = "batches 1";

/** base_offset and batch_len, which batch_len does not count. */
const PREAMBLE_BYTES = 12;
/** Bytes of a batch up to and including last_offset_delta: all a walk over batches reads. */
const BATCH_HEAD_BYTES = 27;
/** The smallest batch_len: the header after batch_len (45 bytes) and a record count. */
const MIN_BATCH_LENGTH = 49;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;

const INDEX_ENTRY_BYTES = 8;
const OFFSET_DIGITS = 20;
/** Segment and index files are the owner's only, like every file of a cluster. */
const FILE_MODE = 0o600;
export const SEGMENT_FILE_PATTERN = /^(\d{20})\.log$/;

/** Chunk size for sequential scans on open, so that recovering a 64 MiB segment does not need a 64 MiB buffer. */
const SCAN_CHUNK_BYTES = 1024 * 1024;

/** Options of {@link openPartitionLog}. */
export interface PartitionLogOptions {
  /** Roll to a new segment when a batch would take the active one past this many bytes (default 64 MiB, at most 2 GiB). */
  segmentBytes?: number;
  /** Add a sparse index entry after at least this many bytes of log (default 4096). */
  indexIntervalBytes?: number;
}

/** What the open-time check of the last segment found, for the SPU to log. */
export interface RecoveryInfo {
  /** File name of the segment that was checked, e.g. `00000000000000000000.log`. */
  segment: string;
  /** Bytes cut off the end of that segment (0 when it was clean). */
  truncatedBytes: number;
  /** End offset of the log after recovery: the offset the next append gets. */
  validEndOffset: number;
  /** Why the tail was cut off, or null when nothing was. */
  reason: string | null;
}

/** Offsets given to appended batches. */
export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

/** Options of {@link PartitionLog.read}. */
export interface ReadOptions {
  /** Stop before a batch that would take the slice past this many bytes (the first batch is always whole). */
  maxBytes: number;
  /** Only batches that end at or below this offset (the high watermark); default the end of the log. */
  upTo?: number;
  /** Free bytes wanted before the slice in its buffer, for the answer's header: one write sends both. */
  headroom?: number;
}

/** Result of {@link PartitionLog.read}: whole batches, contiguous in the log. */
export interface SliceResult {
  /** The batches as stored; at least `headroom` bytes before it in its buffer are free to overwrite. */
  bytes: Uint8Array;
  /** Base offset of the first batch: the asked offset or below it, when a batch holds it. */
  baseOffset: number;
  /** Offset to read from next: the one after the last batch returned (the asked offset when none). */
  nextOffset: number;
}

interface SparseIndex {
  relOffsets: number[];
  positions: number[];
}

interface Segment {
  baseOffset: number;
  name: string;
  /** Bytes of whole batches in the .log file. */
  size: number;
  /** When its .log was last written (ms since the epoch): a closed segment's age, for retention. */
  writtenAt: number;
  /** Open lazily for closed segments; read-write for the active one. */
  fd: number | null;
  /** Loaded lazily for closed segments. */
  index: SparseIndex | null;
}

interface ScanResult {
  endPosition: number;
  endOffset: number;
  entries: SparseIndex;
  corruption: string | null;
}

/**
 * Opens (creating it if needed) the partition log kept in `dir`, checks the tail of its last
 * segment and truncates a torn or corrupt end; see {@link PartitionLog.recovery} for what was
 * found. A directory in the per-record format must be converted first (log-upgrade.ts).
 */
export function openPartitionLog(dir: string, options: PartitionLogOptions = {}): PartitionLog {
  return new PartitionLog(dir, options);
}

/** True when `dir` holds segments but no format file: written by the per-record log before this one. */
export function isPerRecordFormat(dir: string): boolean {
  if (existsSync(join(dir, FORMAT_FILE))) return false;
  try {
    return readdirSync(dir).some((file) => SEGMENT_FILE_PATTERN.test(file));
  } catch {
    return false;
  }
}

/**
 * Append-only log of one partition, split into segment files. Not safe for concurrent use
 * from several processes; within one process every call is synchronous, so calls never
 * interleave.
 */
export class PartitionLog {
  /** The partition directory. */
  readonly dir: string;
  /** What the open-time check of the last segment found. */
  readonly recovery: RecoveryInfo;

  private readonly segmentBytes: number;
  private readonly indexIntervalBytes: number;
  private readonly segments: Segment[] = [];
  private activeIndexFd: number;
  private end: number;
  /** A segment file was created or removed since the directory was last fsynced. */
  private dirDirty = false;
  private closed = false;

  /** Prefer {@link openPartitionLog}; this does the same. */
  constructor(dir: string, options: PartitionLogOptions = {}) {
    this.dir = dir;
    this.segmentBytes = checkPositiveInteger("segmentBytes", options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES);
    this.indexIntervalBytes = checkPositiveInteger(
      "indexIntervalBytes",
      options.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES,
      MAX_SEGMENT_BYTES,
    );
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (isPerRecordFormat(dir)) {
      throw new Error(`partition directory ${dir} is in the per-record format of earlier versions; convert it with upgradePartitionDir() first`);
    }

    for (const file of readdirSync(dir)) {
      const match = SEGMENT_FILE_PATTERN.exec(file);
      if (match === null) continue;
      const stat = statSync(join(dir, file));
      this.segments.push({ baseOffset: Number(match[1]), name: match[1]!, size: stat.size, writtenAt: stat.mtimeMs, fd: null, index: null });
    }
    this.segments.sort((a, b) => a.baseOffset - b.baseOffset);
    if (this.segments.length === 0) {
      this.segments.push(this.createSegmentFile(0));
    }
    if (!existsSync(join(dir, FORMAT_FILE))) writeFileAtomic(join(dir, FORMAT_FILE), `${FORMAT}\n`);

    const active = this.activeSegment();
    active.fd = openSync(this.logPath(active), constants.O_RDWR);
    const scan = scanSegment(active.fd, active, active.size, this.indexIntervalBytes);
    const truncatedBytes = active.size - scan.endPosition;
    if (truncatedBytes > 0) {
      ftruncateSync(active.fd, scan.endPosition);
      fsyncSync(active.fd);
      active.size = scan.endPosition;
    }
    active.index = scan.entries;
    this.activeIndexFd = openSync(this.indexPath(active), constants.O_RDWR | constants.O_CREAT, FILE_MODE);
    ftruncateSync(this.activeIndexFd, 0);
    writeFully(this.activeIndexFd, encodeIndexEntries(scan.entries, 0), 0);
    this.end = scan.endOffset;
    this.recovery = { segment: `${active.name}.log`, truncatedBytes, validEndOffset: scan.endOffset, reason: scan.corruption };
  }

  /** Offset the next appended record gets. */
  get endOffset(): number {
    return this.end;
  }

  /** Offset of the oldest record kept: the base offset of the oldest segment retention left. */
  get startOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  /** Bytes of batches across all segments (indexes excluded). */
  sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size;
    return total;
  }

  /**
   * Appends produced batches with a single write, setting each one's base offset in `batches`
   * itself (the CRC does not cover it), and returns the offsets they got. Their CRC-32C is the
   * caller's to check (the SPU checks every produced batch, record-batch.ts `scanBatches`);
   * this checks their framing. Not durable until {@link PartitionLog.sync} returns.
   */
  append(batches: Uint8Array): AppendResult {
    this.checkOpen();
    const bytes = asBuffer(batches);
    let next = this.end;
    walkBatches(bytes, (at, lastOffsetDelta) => {
      writeBaseOffset(bytes, at, next);
      next += lastOffsetDelta + 1;
    });
    return this.writeBatches(bytes, next);
  }

  /**
   * Appends batches exactly as {@link PartitionLog.read} returned them on the leader. Every
   * batch's framing and CRC-32C are checked and base offsets must continue from the end of
   * this log, so a corrupt or misplaced batch is rejected, and nothing of the call is stored.
   */
  appendRaw(batches: Uint8Array): AppendResult {
    this.checkOpen();
    const bytes = asBuffer(batches);
    let position = 0;
    let next = this.end;
    while (position < bytes.length) {
      const problem = checkBatch(bytes, position, bytes.length, next);
      if (problem !== null) throw new Error(`replicated batches rejected: ${problem}`);
      next += bytes.readInt32BE(position + LAST_OFFSET_DELTA_AT) + 1;
      position += PREAMBLE_BYTES + bytes.readInt32BE(position + 8);
    }
    return this.writeBatches(bytes, next);
  }

  /** Fsyncs the active segment (and the directory if a segment was rolled since the last sync). */
  sync(): void {
    this.checkOpen();
    fsyncSync(this.activeSegment().fd as number);
    this.syncDirIfDirty();
  }

  /**
   * The whole batches from the one holding `offset`, up to `maxBytes` and `upTo`, as one
   * contiguous slice of one segment, read with one read; a later segment is the next call's.
   * The first batch is returned even if it alone exceeds `maxBytes`. Reading at the end (or
   * where the next batch passes `upTo`) returns no bytes; reading outside the log throws.
   * Batches are not CRC-checked here: their readers check them (consumers, and followers in
   * {@link PartitionLog.appendRaw}).
   */
  read(offset: number, options: ReadOptions): SliceResult {
    this.checkOpen();
    this.checkOffset(offset);
    const { maxBytes } = options;
    if (!(maxBytes >= 0)) throw new Error(`maxBytes must be a non-negative number, got ${maxBytes}`);
    const upTo = Math.min(options.upTo ?? this.end, this.end);
    const headroom = options.headroom ?? 0;
    const none: SliceResult = { bytes: new Uint8Array(headroom).subarray(headroom), baseOffset: offset, nextOffset: offset };
    if (offset >= upTo) return none;

    const segment = this.segments[this.segmentIndexFor(offset)]!;
    const fd = this.readDescriptor(segment);
    let [base, position] = this.indexLookup(segment, offset);
    // One read from the index entry: the batches before the asked one (less than an index
    // interval and a batch), then the budget; read again only for batches bigger than that.
    const readBytes = this.indexIntervalBytes + Math.max(maxBytes, BATCH_HEAD_BYTES);
    let viewStart = position;
    let buffer = readAt(fd, position, Math.min(segment.size - position, readBytes), headroom);
    let view = buffer.subarray(headroom);
    for (;;) {
      if (position - viewStart + BATCH_HEAD_BYTES > view.length) {
        if (position + BATCH_HEAD_BYTES > segment.size) throw new Error(`corrupt segment ${segment.name}.log: it ends inside the batch at offset ${base}`);
        viewStart = position;
        buffer = readAt(fd, position, Math.min(segment.size - position, readBytes), headroom);
        view = buffer.subarray(headroom);
      }
      const at = position - viewStart;
      const found = readBaseOffset(view, at);
      if (found !== base) throw new Error(`corrupt segment ${segment.name}.log: a batch holds base offset ${found} where ${base} was expected`);
      const next = base + view.readInt32BE(at + LAST_OFFSET_DELTA_AT) + 1;
      if (next > offset) break;
      position += PREAMBLE_BYTES + view.readInt32BE(at + 8);
      base = next;
    }

    // `position` is the batch holding `offset`: take whole batches while they fit the budget and `upTo`.
    const start = position;
    let next = base;
    while (position < segment.size) {
      const at = position - viewStart;
      if (at + BATCH_HEAD_BYTES > view.length) break;
      const length = PREAMBLE_BYTES + view.readInt32BE(at + 8);
      const batchEnd = next + view.readInt32BE(at + LAST_OFFSET_DELTA_AT) + 1;
      if (batchEnd > upTo || (position > start && position + length - start > maxBytes)) break;
      if (at + length > view.length) {
        if (position > start) break;
        if (position + length > segment.size) throw new Error(`corrupt segment ${segment.name}.log: the batch at offset ${next} runs past its end`);
        // A first batch bigger than the read: read it whole, on its own.
        return { bytes: readAt(fd, position, length, headroom).subarray(headroom), baseOffset: base, nextOffset: batchEnd };
      }
      position += length;
      next = batchEnd;
    }
    if (next === base) return none;
    return { bytes: view.subarray(start - viewStart, position - viewStart), baseOffset: base, nextOffset: next };
  }

  /**
   * Drops every batch that ends above `offset`: later segments are deleted and the segment
   * holding `offset` is cut at the start of the batch holding it (so an offset inside a batch
   * drops that whole batch). Returns the new end offset. The result is fsynced before
   * returning, because dropped batches that come back after a crash would diverge from the
   * leader.
   */
  truncateTo(offset: number): number {
    this.checkOpen();
    this.checkOffset(offset);
    if (offset === this.end) return this.end;

    const keep = this.segmentIndexFor(offset);
    const segment = this.segments[keep]!;
    // Find the cut before deleting anything, so a failure leaves the log intact
    const [cutOffset, cut] = this.batchStart(segment, offset);
    const index = this.loadIndex(segment);

    closeSync(this.activeIndexFd);
    // Newest first, so a crash part-way leaves a log that is still a prefix
    for (let i = this.segments.length - 1; i > keep; i--) {
      const dropped = this.segments[i]!;
      if (dropped.fd !== null) closeSync(dropped.fd);
      unlinkSync(this.logPath(dropped));
      unlinkSync(this.indexPath(dropped));
      this.dirDirty = true;
    }
    this.segments.length = keep + 1;

    // Reopen read-write: a closed segment's cached descriptor is read-only
    if (segment.fd !== null) closeSync(segment.fd);
    segment.fd = openSync(this.logPath(segment), constants.O_RDWR);
    ftruncateSync(segment.fd, cut);
    segment.size = cut;
    let kept = index.positions.length;
    while (kept > 0 && index.positions[kept - 1]! >= cut) kept--;
    index.relOffsets.length = kept;
    index.positions.length = kept;
    this.activeIndexFd = openSync(this.indexPath(segment), constants.O_RDWR | constants.O_CREAT, FILE_MODE);
    ftruncateSync(this.activeIndexFd, kept * INDEX_ENTRY_BYTES);
    this.end = cutOffset;

    fsyncSync(segment.fd);
    fsyncSync(this.activeIndexFd);
    this.syncDirIfDirty();
    return this.end;
  }

  /**
   * Retention, as Fluvio's cleaner keeps it (fluvio-storage cleaner.rs): deletes whole closed
   * segments, oldest first, while the log holds more than `maxBytes` or while the oldest was
   * last written more than `retentionMs` before `now`; only segments whose records all lie
   * below `upTo` (the high watermark: nothing not yet acknowledged goes). The active segment is
   * never deleted, so the end offset never moves. Returns the new start offset when segments
   * were deleted, else null. A crash part-way leaves the newer segments: still a log, starting
   * later.
   */
  evictSegments(policy: { retentionMs?: number; maxBytes?: number; upTo?: number }, now = Date.now()): number | null {
    this.checkOpen();
    const { retentionMs, maxBytes } = policy;
    const upTo = policy.upTo ?? this.end;
    let size = this.sizeBytes();
    let evicted = false;
    try {
      while (this.segments.length > 1) {
        const oldest = this.segments[0]!;
        const expired = retentionMs !== undefined && now - oldest.writtenAt > retentionMs;
        const over = maxBytes !== undefined && size > maxBytes;
        if ((!expired && !over) || this.segments[1]!.baseOffset > upTo) break;
        if (oldest.fd !== null) closeSync(oldest.fd);
        oldest.fd = null;
        unlinkSync(this.logPath(oldest));
        // Gone with its log; an index never written (it is rebuilt on first read) is no loss.
        removeIfPresent(this.indexPath(oldest));
        this.segments.shift();
        this.dirDirty = true;
        evicted = true;
        size -= oldest.size;
      }
    } finally {
      this.syncDirIfDirty();
    }
    if (!evicted) return null;
    return this.startOffset;
  }

  /**
   * Empties the log and starts it again at `offset`, beyond its end: for a follower whose
   * leader no longer holds the records between (retention deleted them there). Segments go
   * newest first and the new one comes last, so a crash part-way leaves a prefix of the old log
   * or an empty one, which the leader's start sends back here.
   */
  resetTo(offset: number): void {
    this.checkOpen();
    if (!Number.isInteger(offset) || offset <= this.end) throw new Error(`a log is reset only past its end (${this.end}), not to ${offset}`);
    closeSync(this.activeIndexFd);
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.fd !== null) closeSync(segment.fd);
      unlinkSync(this.logPath(segment));
      removeIfPresent(this.indexPath(segment));
    }
    this.segments.length = 0;
    const segment = this.createSegmentFile(offset);
    segment.fd = openSync(this.logPath(segment), constants.O_RDWR);
    segment.index = { relOffsets: [], positions: [] };
    this.activeIndexFd = openSync(this.indexPath(segment), constants.O_RDWR);
    this.segments.push(segment);
    this.end = offset;
    this.dirDirty = true;
    this.syncDirIfDirty();
  }

  /** Fsyncs and closes every file; the log cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.sync();
    closeSync(this.activeIndexFd);
    for (const segment of this.segments) {
      if (segment.fd !== null) closeSync(segment.fd);
      segment.fd = null;
    }
    this.closed = true;
  }

  /** Writes checked batches ending at offset `end` with one write, indexing them on the way. */
  private writeBatches(bytes: Buffer, end: number): AppendResult {
    if (bytes.length === 0) throw new Error("cannot append an empty batch");
    let active = this.activeSegment();
    if (active.size > 0 && active.size + bytes.length > this.segmentBytes) active = this.roll();
    if (active.size + bytes.length > MAX_SEGMENT_BYTES) {
      throw new Error(`batches of ${bytes.length} bytes exceed the maximum segment size (${MAX_SEGMENT_BYTES})`);
    }

    const index = active.index as SparseIndex;
    const entriesBefore = index.positions.length;
    let lastIndexed = entriesBefore > 0 ? index.positions[entriesBefore - 1]! : 0;
    let base = this.end;
    walkBatches(bytes, (at, lastOffsetDelta) => {
      const segmentPosition = active.size + at;
      if (segmentPosition - lastIndexed >= this.indexIntervalBytes) {
        index.relOffsets.push(base - active.baseOffset);
        index.positions.push(segmentPosition);
        lastIndexed = segmentPosition;
      }
      base += lastOffsetDelta + 1;
    });

    const fd = active.fd as number;
    try {
      writeFully(fd, bytes, active.size);
      if (index.positions.length > entriesBefore) {
        writeFully(this.activeIndexFd, encodeIndexEntries(index, entriesBefore), entriesBefore * INDEX_ENTRY_BYTES);
      }
    } catch (error) {
      // Undo a partial write (e.g. disk full) so the file keeps matching what the log believes it holds
      index.relOffsets.length = entriesBefore;
      index.positions.length = entriesBefore;
      ftruncateSync(fd, active.size);
      ftruncateSync(this.activeIndexFd, entriesBefore * INDEX_ENTRY_BYTES);
      throw error;
    }
    active.size += bytes.length;
    const baseOffset = this.end;
    this.end = end;
    return { baseOffset, lastOffset: end - 1 };
  }

  /** Seals the active segment (fsynced, so it never needs recovery) and starts a new one at the end offset. */
  private roll(): Segment {
    const previous = this.activeSegment();
    fsyncSync(previous.fd as number);
    fsyncSync(this.activeIndexFd);
    previous.writtenAt = Date.now();
    // The new files first: if they cannot be made (a full disk), the active segment stays usable.
    const segment = this.createSegmentFile(this.end);
    segment.fd = openSync(this.logPath(segment), constants.O_RDWR);
    let indexFd: number;
    try {
      indexFd = openSync(this.indexPath(segment), constants.O_RDWR);
    } catch (error) {
      closeSync(segment.fd);
      throw error;
    }
    segment.index = { relOffsets: [], positions: [] };
    closeSync(this.activeIndexFd);
    this.activeIndexFd = indexFd;
    this.segments.push(segment);
    this.dirDirty = true;
    return segment;
  }

  private createSegmentFile(baseOffset: number): Segment {
    const name = String(baseOffset).padStart(OFFSET_DIGITS, "0");
    const segment: Segment = { baseOffset, name, size: 0, writtenAt: Date.now(), fd: null, index: null };
    for (const path of [this.logPath(segment), this.indexPath(segment)]) {
      closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, FILE_MODE));
    }
    return segment;
  }

  /** [base offset, byte position] of the batch of `segment` holding `offset`, or of its end when `offset` is the end. */
  private batchStart(segment: Segment, offset: number): [number, number] {
    let [base, position] = this.indexLookup(segment, offset);
    const fd = this.readDescriptor(segment);
    const head = Buffer.allocUnsafe(BATCH_HEAD_BYTES);
    while (position < segment.size) {
      readInto(fd, head, position);
      const next = base + head.readInt32BE(LAST_OFFSET_DELTA_AT) + 1;
      if (next > offset) break;
      position += PREAMBLE_BYTES + head.readInt32BE(8);
      base = next;
    }
    return [base, position];
  }

  /** Nearest indexed [offset, position] at or before `offset` in `segment`. */
  private indexLookup(segment: Segment, offset: number): [number, number] {
    const index = this.loadIndex(segment);
    const rel = offset - segment.baseOffset;
    let low = 0;
    let high = index.relOffsets.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (index.relOffsets[middle]! <= rel) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? [segment.baseOffset, 0] : [segment.baseOffset + index.relOffsets[found]!, index.positions[found]!];
  }

  /** Index of the segment holding `offset`: the last one whose base offset is not above it. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  private loadIndex(segment: Segment): SparseIndex {
    if (segment.index !== null) return segment.index;
    let index: SparseIndex | null = null;
    try {
      index = decodeIndex(readFileSync(this.indexPath(segment)), segment.size);
    } catch {
      // A missing index is rebuilt below, like a damaged one
    }
    if (index === null) {
      const scan = scanSegment(this.readDescriptor(segment), segment, segment.size, this.indexIntervalBytes);
      if (scan.corruption !== null) throw new Error(`corrupt segment ${segment.name}.log: ${scan.corruption}`);
      index = scan.entries;
      const fd = openSync(this.indexPath(segment), constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, FILE_MODE);
      try {
        writeFully(fd, encodeIndexEntries(index, 0), 0);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    segment.index = index;
    return index;
  }

  private readDescriptor(segment: Segment): number {
    if (segment.fd === null) segment.fd = openSync(this.logPath(segment), constants.O_RDONLY);
    return segment.fd;
  }

  private activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private logPath(segment: Segment): string {
    return join(this.dir, `${segment.name}.log`);
  }

  private indexPath(segment: Segment): string {
    return join(this.dir, `${segment.name}.index`);
  }

  private syncDirIfDirty(): void {
    if (!this.dirDirty) return;
    const fd = openSync(this.dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.dirDirty = false;
  }

  private checkOffset(offset: number): void {
    if (!Number.isInteger(offset)) throw new Error(`offset must be an integer, got ${offset}`);
    if (offset < this.startOffset) throw new Error(`offset ${offset} is before the start of the log (${this.startOffset})`);
    if (offset > this.end) throw new Error(`offset ${offset} is past the end of the log (${this.end})`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`partition log ${this.dir} is closed`);
  }
}

/** Calls `visit` with the position and last offset delta of each batch of `bytes`; throws unless they are whole batches. */
function walkBatches(bytes: Buffer, visit: (at: number, lastOffsetDelta: number) => void): void {
  let position = 0;
  while (position < bytes.length) {
    const problem = checkFraming(bytes, position, bytes.length);
    if (problem !== null) throw new Error(`batches rejected: ${problem} (at byte ${position})`);
    visit(position, bytes.readInt32BE(position + LAST_OFFSET_DELTA_AT));
    position += PREAMBLE_BYTES + bytes.readInt32BE(position + 8);
  }
}

/** Why the bytes at `at` (valid up to `limit`) are not a whole batch's frame (length, magic, offset delta), or null. */
function checkFraming(bytes: Buffer, at: number, limit: number): string | null {
  if (at + PREAMBLE_BYTES + MIN_BATCH_LENGTH > limit) return "a partial batch header";
  const length = bytes.readInt32BE(at + 8);
  if (length < MIN_BATCH_LENGTH) return `a batch length of ${length}`;
  if (at + PREAMBLE_BYTES + length > limit) return `a batch of ${length} bytes, more than remain`;
  if (bytes[at + MAGIC_AT] !== 2) return `a batch of magic ${bytes[at + MAGIC_AT]}`;
  if (bytes.readInt32BE(at + LAST_OFFSET_DELTA_AT) < 0) return "a batch of negative last offset delta";
  return null;
}

/** Why the batch at `at` is not a whole, intact batch based at `expectedBase`, or null if it is. */
function checkBatch(bytes: Buffer, at: number, limit: number, expectedBase: number): string | null {
  const framing = checkFraming(bytes, at, limit);
  if (framing !== null) return `${framing} at offset ${expectedBase}`;
  const end = at + PREAMBLE_BYTES + bytes.readInt32BE(at + 8);
  if (crc32c(bytes, at + ATTRIBUTES_AT, end) !== bytes.readUInt32BE(at + CRC_AT)) return `bad CRC in the batch at offset ${expectedBase}`;
  const base = readBaseOffset(bytes, at);
  if (base !== expectedBase) return `a batch holds base offset ${base} where ${expectedBase} was expected`;
  return null;
}

/**
 * Checks every batch of a segment from its start, stopping at the first that is torn or
 * corrupt, and rebuilds its sparse index on the way.
 */
function scanSegment(fd: number, segment: Segment, size: number, indexIntervalBytes: number): ScanResult {
  const entries: SparseIndex = { relOffsets: [], positions: [] };
  let position = 0;
  let offset = segment.baseOffset;
  let lastIndexed = 0;
  let buffer: Buffer = Buffer.alloc(0);
  let bufferStart = 0;
  while (position < size) {
    let at = position - bufferStart;
    const headInBuffer = at + PREAMBLE_BYTES <= buffer.length;
    const claimed = headInBuffer ? PREAMBLE_BYTES + Math.max(buffer.readInt32BE(at + 8), MIN_BATCH_LENGTH) : PREAMBLE_BYTES + MIN_BATCH_LENGTH;
    if (at + claimed > buffer.length) {
      buffer = readAt(fd, position, Math.min(size - position, Math.max(SCAN_CHUNK_BYTES, claimed)), 0);
      bufferStart = position;
      at = 0;
    }
    const problem = checkBatch(buffer, at, buffer.length, offset);
    if (problem !== null) return { endPosition: position, endOffset: offset, entries, corruption: problem };
    if (position - lastIndexed >= indexIntervalBytes) {
      entries.relOffsets.push(offset - segment.baseOffset);
      entries.positions.push(position);
      lastIndexed = position;
    }
    offset += buffer.readInt32BE(at + LAST_OFFSET_DELTA_AT) + 1;
    position += PREAMBLE_BYTES + buffer.readInt32BE(at + 8);
  }
  return { endPosition: position, endOffset: offset, entries, corruption: null };
}

/** Parses an index file, or returns null if it is not plausible for a log of `logSize` bytes. */
function decodeIndex(bytes: Buffer, logSize: number): SparseIndex | null {
  if (bytes.length % INDEX_ENTRY_BYTES !== 0) return null;
  const index: SparseIndex = { relOffsets: [], positions: [] };
  let previousRel = 0;
  let previousPosition = 0;
  for (let at = 0; at < bytes.length; at += INDEX_ENTRY_BYTES) {
    const rel = bytes.readUInt32LE(at);
    const position = bytes.readUInt32LE(at + 4);
    if (rel <= previousRel || position <= previousPosition || position >= logSize) return null;
    index.relOffsets.push(rel);
    index.positions.push(position);
    previousRel = rel;
    previousPosition = position;
  }
  return index;
}

function encodeIndexEntries(index: SparseIndex, from: number): Buffer {
  const bytes = Buffer.allocUnsafe((index.positions.length - from) * INDEX_ENTRY_BYTES);
  for (let i = from; i < index.positions.length; i++) {
    bytes.writeUInt32LE(index.relOffsets[i]!, (i - from) * INDEX_ENTRY_BYTES);
    bytes.writeUInt32LE(index.positions[i]!, (i - from) * INDEX_ENTRY_BYTES + 4);
  }
  return bytes;
}

function readBaseOffset(bytes: Buffer, at: number): number {
  return bytes.readInt32BE(at) * 0x1_0000_0000 + bytes.readUInt32BE(at + 4);
}

function writeBaseOffset(bytes: Buffer, at: number, offset: number): void {
  const high = Math.floor(offset / 0x1_0000_0000);
  bytes.writeInt32BE(high, at);
  bytes.writeUInt32BE(offset - high * 0x1_0000_0000, at + 4);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `length` bytes of the file from `position`, after `headroom` bytes left free in the same buffer. */
function readAt(fd: number, position: number, length: number, headroom: number): Buffer {
  const buffer = Buffer.allocUnsafe(headroom + length);
  readInto(fd, buffer.subarray(headroom), position);
  return buffer;
}

function readInto(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    const read = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (read === 0) throw new Error(`unexpected end of segment file at byte ${position + done}`);
    done += read;
  }
}

function writeFully(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

function checkPositiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name} must be an integer between 1 and ${max}, got ${value}`);
  }
  return value;
}
