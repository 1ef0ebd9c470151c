/**
 * Durable, append-only log of one partition, as kept by an SPU (a tiny Kafka log).
 *
 * The SPU appends producer batches to it, fsyncs before acknowledging, serves
 * consumer and follower reads from any offset, and truncates unacknowledged
 * records when a former leader rejoins as a follower. It has to survive a crash
 * at any point: on open, the tail of the last segment is checked record by
 * record and anything torn or corrupt is cut off and reported.
 *
 * On-disk layout of a partition directory (all integers little-endian):
 *
 *   <base>.log    records whose offsets start at <base>, the base offset
 *                 zero-padded to 20 digits; a new segment is rolled when a batch
 *                 would make the active one exceed `segmentBytes`
 *   <base>.index  sparse index of the matching .log: one 8-byte entry about
 *                 every `indexIntervalBytes` of log
 *
 *   record frame (16-byte header + value):
 *     [0, 4)       u32  value length in bytes
 *     [4, 8)       u32  CRC-32 (IEEE, as zlib) of bytes [8, 16 + length): the
 *                       offset and the value, so a frame copied to the wrong
 *                       place fails its check as surely as a flipped bit
 *     [8, 16)      u64  absolute offset of the record
 *     [16, 16+len)      value bytes
 *
 *   index entry:
 *     [0, 4)       u32  offset relative to the segment's base offset (> 0)
 *     [4, 8)       u32  byte position of that record's frame in the .log
 *
 * Offsets are dense from the first segment's base (0 for now). Positions fit
 * in u32 because a segment is capped at 2 GiB. Only the last segment is
 * scanned on open and its index rebuilt; older segments were fsynced when they
 * were rolled, so their index is trusted unless it fails a sanity check, in
 * which case it is rebuilt from the log the first time that segment is read.
 */
import {
  closeSync,
  constants,
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

/** Bytes before the value in every record frame. */
export const FRAME_HEADER_BYTES = 16;

/** Default size past which the active segment is rolled: 64 MiB. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Default number of log bytes between two sparse index entries. */
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096;

/** Largest allowed segment, so that byte positions fit the u32 index field with room for one oversized batch. */
const MAX_SEGMENT_BYTES = 2 ** 31;

const INDEX_ENTRY_BYTES = 8;
const OFFSET_DIGITS = 20;
/** Segment and index files are the owner's only, like every file of a cluster. */
const FILE_MODE = 0o600;
const SEGMENT_FILE_PATTERN = /^(\d{20})\.log$/;
const TWO_POW_32 = 2 ** 32;

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

/** One record as returned by {@link PartitionLog.read}. */
export interface LogRecord {
  offset: number;
  value: Uint8Array;
}

/** Offsets given to an appended batch. */
export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

/** Result of {@link PartitionLog.read}. */
export interface ReadResult {
  records: LogRecord[];
  /** Offset to read from next: the offset after the last returned record. */
  nextOffset: number;
}

/** Result of {@link PartitionLog.readRaw}: whole frames in the on-disk format, ready for {@link PartitionLog.appendRaw} on a follower. */
export interface RawReadResult {
  bytes: Uint8Array;
  count: number;
  nextOffset: number;
}

interface SparseIndex {
  relOffsets: number[];
  positions: number[];
}

interface Segment {
  baseOffset: number;
  name: string;
  /** Bytes of whole records in the .log file. */
  size: number;
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
 * Opens (creating it if needed) the partition log kept in `dir`, checks the
 * tail of its last segment and truncates a torn or corrupt end; see
 * {@link PartitionLog.recovery} for what was found.
 */
export function openPartitionLog(dir: string, options: PartitionLogOptions = {}): PartitionLog {
  return new PartitionLog(dir, options);
}

/**
 * Append-only log of one partition, split into segment files. Not safe for
 * concurrent use from several processes; within one process every call is
 * synchronous, so calls never interleave.
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
    this.segmentBytes = checkPositiveInteger(
      "segmentBytes",
      options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      MAX_SEGMENT_BYTES,
    );
    this.indexIntervalBytes = checkPositiveInteger(
      "indexIntervalBytes",
      options.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES,
      MAX_SEGMENT_BYTES,
    );
    mkdirSync(dir, { recursive: true, mode: 0o700 });

    for (const file of readdirSync(dir)) {
      const match = SEGMENT_FILE_PATTERN.exec(file);
      if (match === null) continue;
      const baseOffset = Number(match[1]);
      this.segments.push({
        baseOffset,
        name: match[1],
        size: statSync(join(dir, file)).size,
        fd: null,
        index: null,
      });
    }
    this.segments.sort((a, b) => a.baseOffset - b.baseOffset);
    if (this.segments.length === 0) {
      this.segments.push(this.createSegmentFile(0));
    }

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
    this.recovery = {
      segment: `${active.name}.log`,
      truncatedBytes,
      validEndOffset: scan.endOffset,
      reason: scan.corruption,
    };
  }

  /** Offset the next appended record gets. */
  get endOffset(): number {
    return this.end;
  }

  /** Offset of the oldest record kept (0 until retention exists). */
  get startOffset(): number {
    return this.segments[0].baseOffset;
  }

  /** Bytes of record frames across all segments (indexes excluded). */
  sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size;
    return total;
  }

  /**
   * Appends a batch with a single write and returns the offsets it got. The
   * batch is not durable until {@link PartitionLog.sync} returns.
   */
  append(values: Uint8Array[]): AppendResult {
    this.checkOpen();
    return this.writeBatch(encodeBatch(values, this.end), values.length);
  }

  /**
   * Appends frames exactly as returned by {@link PartitionLog.readRaw} on the leader. Every
   * frame's length and CRC are checked and offsets must continue from the end
   * of this log, so a corrupt or misplaced batch is rejected whole.
   */
  appendRaw(bytes: Uint8Array): AppendResult {
    this.checkOpen();
    const batch = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let position = 0;
    let expected = this.end;
    while (position < batch.length) {
      const problem = checkFrame(batch, position, batch.length, expected);
      if (problem !== null) throw new Error(`raw batch rejected: ${problem}`);
      position += FRAME_HEADER_BYTES + batch.readUInt32LE(position);
      expected++;
    }
    return this.writeBatch(batch, expected - this.end);
  }

  /** Fsyncs the active segment (and the directory if a segment was rolled since the last sync). */
  sync(): void {
    this.checkOpen();
    fsyncSync(this.activeSegment().fd as number);
    this.syncDirIfDirty();
  }

  /**
   * Reads whole records from `offset` on, up to `maxBytes` of frames (header
   * included), possibly spanning segments. The first record is returned even
   * if it alone exceeds `maxBytes`. Values are views into a buffer allocated
   * for this call, so they stay valid. Reading at the end offset returns no
   * records; reading outside the log throws.
   */
  read(offset: number, maxBytes: number): ReadResult {
    const { chunks, nextOffset } = this.readFrames(offset, maxBytes);
    const records: LogRecord[] = [];
    let recordOffset = offset;
    for (const chunk of chunks) {
      let position = 0;
      while (position < chunk.length) {
        const length = chunk.readUInt32LE(position);
        const value = new Uint8Array(chunk.buffer, chunk.byteOffset + position + FRAME_HEADER_BYTES, length);
        records.push({ offset: recordOffset++, value });
        position += FRAME_HEADER_BYTES + length;
      }
    }
    return { records, nextOffset };
  }

  /** Like {@link PartitionLog.read} but returns the frames as stored, for replication to followers. */
  readRaw(offset: number, maxBytes: number): RawReadResult {
    const { chunks, nextOffset } = this.readFrames(offset, maxBytes);
    const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), count: nextOffset - offset, nextOffset };
  }

  /**
   * Drops every record at `offset` or later: later segments are deleted and
   * the segment holding `offset` is cut there. The result is fsynced before
   * returning, because dropped records that come back after a crash would
   * diverge from the leader.
   */
  truncateTo(offset: number): void {
    this.checkOpen();
    this.checkOffset(offset);
    if (offset === this.end) return;

    const keep = this.segmentIndexFor(offset);
    const segment = this.segments[keep];
    // Find the cut position before deleting anything, so a failure leaves the log intact
    const cut = this.positionOf(segment, offset);
    const index = this.loadIndex(segment);

    closeSync(this.activeIndexFd);
    // Newest first, so a crash part-way leaves a log that is still a prefix
    for (let i = this.segments.length - 1; i > keep; i--) {
      const dropped = this.segments[i];
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
    while (kept > 0 && index.positions[kept - 1] >= cut) kept--;
    index.relOffsets.length = kept;
    index.positions.length = kept;
    this.activeIndexFd = openSync(this.indexPath(segment), constants.O_RDWR | constants.O_CREAT, FILE_MODE);
    ftruncateSync(this.activeIndexFd, kept * INDEX_ENTRY_BYTES);
    this.end = offset;

    fsyncSync(segment.fd);
    fsyncSync(this.activeIndexFd);
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

  private writeBatch(batch: Buffer, count: number): AppendResult {
    if (count === 0) throw new Error("cannot append an empty batch");
    let active = this.activeSegment();
    if (active.size > 0 && active.size + batch.length > this.segmentBytes) active = this.roll();
    if (active.size + batch.length > MAX_SEGMENT_BYTES) {
      throw new Error(`batch of ${batch.length} bytes exceeds the maximum segment size (${MAX_SEGMENT_BYTES})`);
    }

    const index = active.index as SparseIndex;
    const entriesBefore = index.positions.length;
    let lastIndexed = entriesBefore > 0 ? index.positions[entriesBefore - 1] : 0;
    let position = 0;
    for (let i = 0; i < count; i++) {
      const segmentPosition = active.size + position;
      if (segmentPosition - lastIndexed >= this.indexIntervalBytes) {
        index.relOffsets.push(this.end + i - active.baseOffset);
        index.positions.push(segmentPosition);
        lastIndexed = segmentPosition;
      }
      position += FRAME_HEADER_BYTES + batch.readUInt32LE(position);
    }

    const fd = active.fd as number;
    try {
      writeFully(fd, batch, active.size);
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
    active.size += batch.length;
    const baseOffset = this.end;
    this.end += count;
    return { baseOffset, lastOffset: this.end - 1 };
  }

  /** Seals the active segment (fsynced, so it never needs recovery) and starts a new one at the end offset. */
  private roll(): Segment {
    const previous = this.activeSegment();
    fsyncSync(previous.fd as number);
    fsyncSync(this.activeIndexFd);
    closeSync(this.activeIndexFd);
    const segment = this.createSegmentFile(this.end);
    segment.fd = openSync(this.logPath(segment), constants.O_RDWR);
    segment.index = { relOffsets: [], positions: [] };
    this.activeIndexFd = openSync(this.indexPath(segment), constants.O_RDWR);
    this.segments.push(segment);
    this.dirDirty = true;
    return segment;
  }

  private createSegmentFile(baseOffset: number): Segment {
    const name = String(baseOffset).padStart(OFFSET_DIGITS, "0");
    const segment: Segment = { baseOffset, name, size: 0, fd: null, index: null };
    for (const path of [this.logPath(segment), this.indexPath(segment)]) {
      closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, FILE_MODE));
    }
    return segment;
  }

  /** Collects whole, CRC-checked frames from `offset` on; each chunk is a run of frames contiguous in one read buffer. */
  private readFrames(offset: number, maxBytes: number): { chunks: Buffer[]; nextOffset: number } {
    this.checkOpen();
    this.checkOffset(offset);
    if (!(maxBytes >= 0)) throw new Error(`maxBytes must be a non-negative number, got ${maxBytes}`);
    const chunks: Buffer[] = [];
    let next = offset;
    let budget = maxBytes;
    let segmentIndex = next < this.end ? this.segmentIndexFor(next) : this.segments.length;
    while (next < this.end && (next === offset || budget > 0) && segmentIndex < this.segments.length) {
      const segment = this.segments[segmentIndex];
      const segmentEnd = segmentIndex + 1 < this.segments.length ? this.segments[segmentIndex + 1].baseOffset : this.end;
      const fd = this.readDescriptor(segment);
      let [scanOffset, position] = this.indexLookup(segment, next);

      // Read enough to skip from the index entry to `next` and fill the budget; refill when a frame crosses the buffer end
      const skipBytes = scanOffset < next ? this.indexIntervalBytes : 0;
      let buffer = readAt(fd, position, Math.min(segment.size - position, skipBytes + Math.min(budget, segment.size) + FRAME_HEADER_BYTES));
      let bufferStart = position;
      let chunkStart = -1;
      while (scanOffset < segmentEnd) {
        const collecting = scanOffset >= next;
        const tookOne = next > offset;
        if (collecting && tookOne && budget < FRAME_HEADER_BYTES) break;
        const at = position - bufferStart;
        const headerInBuffer = at + FRAME_HEADER_BYTES <= buffer.length;
        const frameBytes = headerInBuffer ? FRAME_HEADER_BYTES + buffer.readUInt32LE(at) : FRAME_HEADER_BYTES;
        if (headerInBuffer && collecting && tookOne && frameBytes > budget) break;
        // A frame running past the end of the file is left to checkFrame to report, rather than refilled forever
        if (at + frameBytes > buffer.length && position + frameBytes <= segment.size) {
          if (chunkStart >= 0) chunks.push(buffer.subarray(chunkStart, at));
          chunkStart = -1;
          const want = Math.max(frameBytes, collecting ? Math.min(budget, segment.size) : this.indexIntervalBytes);
          buffer = readAt(fd, position, Math.min(segment.size - position, want + FRAME_HEADER_BYTES));
          bufferStart = position;
          continue;
        }
        const problem = checkFrame(buffer, at, buffer.length, scanOffset);
        if (problem !== null) throw new Error(`corrupt segment ${segment.name}.log: ${problem}`);
        if (collecting) {
          if (chunkStart < 0) chunkStart = at;
          budget -= frameBytes;
          next++;
        }
        scanOffset++;
        position += frameBytes;
      }
      if (chunkStart >= 0) chunks.push(buffer.subarray(chunkStart, position - bufferStart));
      if (scanOffset < segmentEnd) break;
      segmentIndex++;
    }
    return { chunks, nextOffset: next };
  }

  /** Byte position of the frame of `offset` within `segment`, which must hold it or end right before it. */
  private positionOf(segment: Segment, offset: number): number {
    let [scanOffset, position] = this.indexLookup(segment, offset);
    const fd = this.readDescriptor(segment);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    while (scanOffset < offset) {
      readInto(fd, header, position);
      position += FRAME_HEADER_BYTES + header.readUInt32LE(0);
      scanOffset++;
    }
    return position;
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
      if (index.relOffsets[middle] <= rel) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0
      ? [segment.baseOffset, 0]
      : [segment.baseOffset + index.relOffsets[found], index.positions[found]];
  }

  /** Index of the segment holding `offset`: the last one whose base offset is not above it. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle].baseOffset <= offset) low = middle;
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
      index = scanSegment(this.readDescriptor(segment), segment, segment.size, this.indexIntervalBytes).entries;
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
    return this.segments[this.segments.length - 1];
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
    if (offset < this.startOffset) {
      throw new Error(`offset ${offset} is before the start of the log (${this.startOffset})`);
    }
    if (offset > this.end) throw new Error(`offset ${offset} is past the end of the log (${this.end})`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`partition log ${this.dir} is closed`);
  }
}

/** Frames `values` into one buffer, so that a batch costs a single write. */
function encodeBatch(values: Uint8Array[], baseOffset: number): Buffer {
  let total = 0;
  for (const value of values) total += FRAME_HEADER_BYTES + value.byteLength;
  const batch = Buffer.allocUnsafe(total);
  let position = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const offset = baseOffset + i;
    batch.writeUInt32LE(value.byteLength, position);
    batch.writeUInt32LE(offset % TWO_POW_32, position + 8);
    batch.writeUInt32LE(Math.floor(offset / TWO_POW_32), position + 12);
    batch.set(value, position + FRAME_HEADER_BYTES);
    const end = position + FRAME_HEADER_BYTES + value.byteLength;
    batch.writeUInt32LE(Bun.hash.crc32(batch.subarray(position + 8, end)), position + 4);
    position = end;
  }
  return batch;
}

/** Why the frame at `at` in `buffer` (valid up to `limit`) is not a whole, intact record for `expectedOffset`, or null if it is. */
function checkFrame(buffer: Buffer, at: number, limit: number, expectedOffset: number): string | null {
  if (at + FRAME_HEADER_BYTES > limit) return `partial frame header at offset ${expectedOffset}`;
  const length = buffer.readUInt32LE(at);
  const end = at + FRAME_HEADER_BYTES + length;
  if (end > limit) return `frame of offset ${expectedOffset} claims ${length} bytes, more than remain`;
  if (Bun.hash.crc32(buffer.subarray(at + 8, end)) !== buffer.readUInt32LE(at + 4)) {
    return `bad CRC in frame of offset ${expectedOffset}`;
  }
  const offset = buffer.readUInt32LE(at + 8) + buffer.readUInt32LE(at + 12) * TWO_POW_32;
  if (offset !== expectedOffset) return `frame holds offset ${offset} where ${expectedOffset} was expected`;
  return null;
}

/**
 * Checks every frame of a segment from its start, stopping at the first that
 * is torn or corrupt, and rebuilds its sparse index on the way.
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
    if (at + FRAME_HEADER_BYTES > buffer.length || at + FRAME_HEADER_BYTES + buffer.readUInt32LE(at) > buffer.length) {
      const claimed = at + FRAME_HEADER_BYTES <= buffer.length ? FRAME_HEADER_BYTES + buffer.readUInt32LE(at) : 0;
      buffer = readAt(fd, position, Math.min(size - position, Math.max(SCAN_CHUNK_BYTES, claimed)));
      bufferStart = position;
      at = 0;
    }
    const problem = checkFrame(buffer, at, buffer.length, offset);
    if (problem !== null) return { endPosition: position, endOffset: offset, entries, corruption: problem };
    if (position - lastIndexed >= indexIntervalBytes) {
      entries.relOffsets.push(offset - segment.baseOffset);
      entries.positions.push(position);
      lastIndexed = position;
    }
    position += FRAME_HEADER_BYTES + buffer.readUInt32LE(at);
    offset++;
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
    bytes.writeUInt32LE(index.relOffsets[i], (i - from) * INDEX_ENTRY_BYTES);
    bytes.writeUInt32LE(index.positions[i], (i - from) * INDEX_ENTRY_BYTES + 4);
  }
  return bytes;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  readInto(fd, buffer, position);
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

function checkPositiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name} must be an integer between 1 and ${max}, got ${value}`);
  }
  return value;
}

/** The first `count` frames of `bytes` (frames as this log stores them, as `readRaw` returns them). */
export function firstFrames(bytes: Uint8Array, count: number): Uint8Array {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = 0;
  for (let i = 0; i < count && position < view.length; i++) position += FRAME_HEADER_BYTES + view.readUInt32LE(position);
  return bytes.subarray(0, position);
}
