/**
 * One replica of a partition on an SPU: its durable log and, while it leads, what it knows
 * about its followers. The leader appends a producer's batch, fsyncs it (batches appended in
 * the same turn of the event loop share one fsync), and acknowledges it once the high
 * watermark passes it, that is once every in-sync replica has fetched past it; a follower's
 * fetch offset says it holds everything before it, fsynced. Consumers read only below the high
 * watermark, so they never see a record that could still be lost.
 *
 * The high watermark is checkpointed to `high-watermark` in the partition directory (at most
 * every CHECKPOINT_INTERVAL_MS and on close), so a leader that restarts serves what was
 * acknowledged before without waiting for its followers.
 *
 * Failover: a replica that becomes leader (the SC elected it from the in-sync set) adds its
 * epoch to its leader-epoch history and serves its whole log; the records in it above its
 * high watermark become acknowledged once its in-sync followers hold them. Its own high
 * watermark (a follower's, learnt from its old leader's answers, or a checkpoint up to a
 * second old) may trail what was acknowledged; it is known again once it reaches the log end
 * the replica had when it took the lead, and until then the SC does not list it as online
 * (`highWatermarkKnown`, Kafka's KIP-207). A follower's fetch counts only once its log is a
 * prefix of the leader's (leader-epochs.ts); otherwise it is told to truncate, so a returning
 * old leader drops the tail it wrote but no one acknowledged.
 *
 * If the in-sync set must shrink (a follower left) while the SC is unreachable, waiting
 * produces fail at once with SC_UNREACHABLE instead of holding until PRODUCE_TIMEOUT_MS: the
 * leader cannot acknowledge without its follower until the SC has recorded that it left.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/files.ts";
import { desiredIsr, highWatermark, sameIds, type FollowerState } from "./isr.ts";
import { clampHistory, divergencePoint, readHistory, sameHistory, withEpoch, writeHistory, type EpochEntry } from "../storage/leader-epochs.ts";
import { upgradePartitionDir, type UpgradeInfo } from "../storage/log-upgrade.ts";
import { openPartitionLog, type PartitionLog, type RecoveryInfo, type SliceResult } from "../storage/partition-log.ts";
import { PRODUCE_TIMEOUT_MS, type FetchRefusal, type FetchResult, type FollowerFetch, type ReplicaAssignmentInfo, type ReplicaReport } from "../model/replica-info.ts";
import { describeDiskFull, isDiskFull } from "../storage/disk-full.ts";
import { RepeatedFailure } from "../daemon/repeated-failure.ts";

/** A follower that has not caught up for this long leaves the in-sync set. */
export const MAX_LAG_MS = 5_000;
/**
 * An in-sync set the SC answered without taking (it refused, say on a full disk) is asked for
 * again this long after the answer. An ask not yet answered is never repeated: the SC answers
 * each ask once, and asks lost with a session are answered by the whole assignment the next
 * session opens with.
 */
const ISR_RETRY_MS = 1_000;
const CHECKPOINT_INTERVAL_MS = 1_000;
/** A checkpoint that cannot be written is tried again after this, doubling up to CHECKPOINT_MAX_RETRY_MS. */
const CHECKPOINT_FIRST_RETRY_MS = 1_000;
const CHECKPOINT_MAX_RETRY_MS = 30_000;
/** A storage failure repeated in a row is logged at most this often. */
export const FAILURE_LOG_INTERVAL_MS = 10_000;
const CHECKPOINT_FILE = "high-watermark";
const EMPTY: Uint8Array = new Uint8Array(0);

/** Why a replica cannot serve a request; each wire adapter maps it to its protocol's answer. */
export type ReplicaErrorCode = "NOT_LEADER" | "OFFSET_OUT_OF_RANGE" | "OFFSET_EVICTED" | "PRODUCE_TIMEOUT" | "SC_UNREACHABLE" | "BAD_REQUEST" | "DISK_FULL";

/** A request a replica cannot serve, with the reason in the engine's terms. */
export class ReplicaError extends Error {
  readonly code: ReplicaErrorCode;

  constructor(code: ReplicaErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A read below the start of the log: retention deleted the records there; `nextAvailable` is the oldest kept. */
export class OffsetEvicted extends ReplicaError {
  readonly offset: number;
  readonly nextAvailable: number;

  constructor(message: string, offset: number, nextAvailable: number) {
    super("OFFSET_EVICTED", message);
    this.offset = offset;
    this.nextAvailable = nextAvailable;
  }
}

/**
 * A produce whose timeout passed before every in-sync replica had its batch. The batch is
 * stored in the leader's log at `stored` all the same, and counts once its followers have it.
 */
export class ProduceTimedOut extends ReplicaError {
  readonly stored: { baseOffset: number; lastOffset: number };
  readonly timeoutMs: number;

  constructor(message: string, stored: { baseOffset: number; lastOffset: number }, timeoutMs: number) {
    super("PRODUCE_TIMEOUT", message);
    this.stored = stored;
    this.timeoutMs = timeoutMs;
  }
}

/** What a replica needs from the SPU around it. */
export interface ReplicaHooks {
  /** Asks the SC to record a new in-sync set. */
  proposeIsr(isr: number[]): void;
  /** Offsets or the high watermark changed: report them to the SC soon. */
  changed(): void;
  /** True while the SPU holds an accepted connection to the SC. */
  scConnected(): boolean;
  /** The clock lag is measured by, in milliseconds; Date.now unless given (a test passes its own). */
  now?(): number;
}

interface Follower extends FollowerState {
  /** Open fetch connections of this follower (normally one). */
  sessions: number;
  /** The leader's end offset when it last answered this follower. */
  lastSentEnd: number;
  /** The high watermark the leader last told this follower. */
  lastSentHighWatermark: number;
}

interface AckWaiter {
  /** Resolved once the high watermark reaches this offset. */
  until: number;
  resolve(): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** One partition replica of this SPU: leader or follower as its assignment says. */
export class Replica {
  /** Its own: what is appended, cut, synced and read goes through the replica, which keeps the high watermark and epochs with it. */
  private readonly log: PartitionLog;
  /** What converting the directory from the per-record format of earlier versions did, or null when it needed none. */
  readonly upgrade: UpgradeInfo | null;
  readonly #selfId: number;
  readonly #hooks: ReplicaHooks;
  #assignment: ReplicaAssignmentInfo;
  /** The epoch this replica leads under, or null while it follows. */
  #ledEpoch: number | null = null;
  /** The log end when this replica took the lead: every record acknowledged before lies below it. */
  #leadStart = 0;
  #epochs: EpochEntry[];
  #highWatermark: number;
  #syncedEnd: number;
  #followers = new Map<number, Follower>();
  /** The in-sync set asked for and not yet taken; `answeredAt` once the SC answered with another. */
  #proposed: { isr: number[]; answeredAt: number | null } | null = null;
  #ackWaiters: AckWaiter[] = [];
  /** Woken when records are appended or the high watermark moves (long-polling fetches and consumes). */
  #wakers = new Set<() => void>();
  #flushScheduled = false;
  #checkpointTimer: ReturnType<typeof setTimeout> | null = null;
  #checkpointed = -1;
  #checkpointFailure: RepeatedFailure;
  #closed = false;

  constructor(dir: string, assignment: ReplicaAssignmentInfo, selfId: number, hooks: ReplicaHooks) {
    this.upgrade = upgradePartitionDir(dir);
    this.log = openPartitionLog(dir, { segmentBytes: assignment.segmentSize });
    // The recovered log may sit in the page cache only: make it durable before serving from it.
    this.log.sync();
    this.#selfId = selfId;
    this.#hooks = hooks;
    this.#assignment = assignment;
    this.#checkpointFailure = new RepeatedFailure({
      what: `replica '${assignment.topic}-${assignment.partition}' checkpointing its high watermark`,
      firstDelayMs: CHECKPOINT_FIRST_RETRY_MS,
      maxDelayMs: CHECKPOINT_MAX_RETRY_MS,
      logIntervalMs: FAILURE_LOG_INTERVAL_MS,
    });
    this.#epochs = clampHistory(readHistory(dir), this.log.endOffset);
    this.#syncedEnd = this.log.endOffset;
    this.#highWatermark = Math.min(readCheckpoint(dir), this.log.endOffset);
    this.#checkpointed = this.#highWatermark;
    this.update(assignment);
  }

  get isLeader(): boolean {
    return this.#assignment.leader === this.#selfId;
  }

  get assignment(): ReplicaAssignmentInfo {
    return this.#assignment;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  /** True while it leads and its high watermark covers every record acknowledged before it took the lead. */
  get highWatermarkKnown(): boolean {
    return this.#ledEpoch !== null && this.#highWatermark >= this.#leadStart;
  }

  /** The leader-epoch history of the records this replica holds. */
  get epochs(): EpochEntry[] {
    return this.#epochs;
  }

  /** The offset the next record stored gets. */
  get endOffset(): number {
    return this.log.endOffset;
  }

  /** The first offset the log still holds (Fluvio's log start offset). */
  get startOffset(): number {
    return this.log.startOffset;
  }

  /** The partition's directory. */
  get dir(): string {
    return this.log.dir;
  }

  /** What opening the log cut off a torn or corrupt end. */
  get recovery(): RecoveryInfo {
    return this.log.recovery;
  }

  /** Takes a new assignment from the SC (a new in-sync set, leader or epoch). */
  update(assignment: ReplicaAssignmentInfo): void {
    this.#assignment = assignment;
    if (!this.isLeader) {
      if (this.#ledEpoch !== null) this.#stepDown();
      return;
    }
    if (this.#ledEpoch !== assignment.leaderEpoch) this.#takeLead();
    const now = this.#now();
    for (const id of assignment.replicas) {
      if (id === this.#selfId || this.#followers.has(id)) continue;
      // A follower gets MAX_LAG_MS to show up before it counts as lagging.
      this.#followers.set(id, { endOffset: 0, caughtUpAt: now, disconnected: false, sessions: 0, lastSentEnd: 0, lastSentHighWatermark: 0 });
    }
    if (this.#proposed && sameIds(this.#proposed.isr, assignment.isr)) this.#proposed = null;
    else if (this.#proposed) this.#proposed.answeredAt ??= now;
    this.#advance();
  }

  /**
   * The leader's part of a produce: append `batches` (whole, CRC-checked batches; their base
   * offsets are set here), fsync, and resolve once the in-sync replicas have them; rejects with
   * ProduceTimedOut once `timeoutMs` (default PRODUCE_TIMEOUT_MS) pass.
   */
  async produce(batches: Uint8Array, options: { timeoutMs?: number } = {}): Promise<{ baseOffset: number; lastOffset: number }> {
    const timeoutMs = options.timeoutMs ?? PRODUCE_TIMEOUT_MS;
    this.#ensureLeader();
    const stuck = this.#stuckShrink();
    if (stuck) throw stuck;
    let result;
    try {
      result = this.log.append(batches);
    } catch (error) {
      // The log undid the partial write: nothing of this batch is stored.
      throw isDiskFull(error) ? this.#diskFullError(batches.byteLength) : error;
    }
    this.#wake();
    this.#scheduleFlush();
    await new Promise<void>((resolve, reject) => {
      const waiter: AckWaiter = {
        until: result.lastOffset + 1,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#ackWaiters = this.#ackWaiters.filter((other) => other !== waiter);
          reject(
            new ProduceTimedOut(
              `in-sync replicas [${this.#effectiveIsr().join(", ")}] did not all confirm offsets ${result.baseOffset}..${result.lastOffset} within ${timeoutMs / 1000}s`,
              result,
              timeoutMs,
            ),
          );
        }, timeoutMs),
      };
      this.#ackWaiters.push(waiter);
      this.#advance();
    });
    return result;
  }

  /** Serves a follower's fetch: records from its offset (waiting up to `waitMs` when there are none yet). */
  async fetch(request: FollowerFetch): Promise<FetchResult> {
    const answer = (refusal?: FetchRefusal, records = EMPTY): FetchResult => ({
      endOffset: this.log.endOffset,
      highWatermark: this.#highWatermark,
      startOffset: this.log.startOffset,
      epochs: this.#epochs,
      records,
      ...(refusal ? { refusal } : {}),
    });
    if (this.#closed || !this.isLeader) return answer("NOT_LEADER");
    if (request.leaderEpoch !== this.#assignment.leaderEpoch) return answer("FENCED");
    // The offset acknowledges records only if the follower's are ours: else it must cut them first.
    const common = divergencePoint(request.epochs, request.offset, this.#epochs, this.log.endOffset);
    if (common < request.offset) return { ...answer("DIVERGING"), truncateTo: common };
    if (request.offset < this.log.startOffset) return answer("OFFSET_OUT_OF_RANGE");
    this.#recordFetch(request.replicaId, request.offset);
    // A follower waiting at the end is also answered when the high watermark passes what it was
    // last told (Kafka's KIP-392): a follower elected later, or checkpointing on close, then
    // holds the high watermark its records reached, not the one of the answer that brought them.
    const told = this.#followers.get(request.replicaId)?.lastSentHighWatermark ?? Infinity;
    const news = () => this.log.endOffset > request.offset || this.#highWatermark > told;
    if (request.offset === this.log.endOffset && request.waitMs > 0 && !news()) {
      await this.#waitForChange(request.waitMs, news);
      if (this.#closed || !this.isLeader) return answer("NOT_LEADER");
    }
    const read = this.log.read(request.offset, { maxBytes: request.maxBytes });
    const follower = this.#followers.get(request.replicaId);
    if (follower) {
      follower.lastSentEnd = this.log.endOffset;
      follower.lastSentHighWatermark = this.#highWatermark;
    }
    return answer(undefined, read.bytes);
  }

  /** A fetch connection of follower `id` opened. */
  followerConnected(id: number): void {
    const follower = this.#followers.get(id);
    if (!follower) return;
    follower.sessions++;
    follower.disconnected = false;
  }

  /** A fetch connection of follower `id` closed: without another, it leaves the in-sync set now. */
  followerDisconnected(id: number): void {
    const follower = this.#followers.get(id);
    if (!follower) return;
    follower.sessions = Math.max(0, follower.sessions - 1);
    if (follower.sessions === 0) {
      follower.disconnected = true;
      this.checkIsr();
    }
  }

  /**
   * Whole batches below the high watermark from the one holding `offset`, up to `maxBytes`
   * (the first always whole), as the log holds them: waits up to `waitMs` when there are none.
   * `headroom` bytes before them are free for the answer's header (partition-log.ts `read`).
   */
  async consume(offset: number, options: { maxBytes: number; waitMs: number; headroom?: number }): Promise<SliceResult> {
    this.#ensureLeader();
    // NOTE: between the high watermark and the end is in range: a new leader's high watermark
    // may trail what its predecessor acknowledged until its followers fetch, and a consumer
    // that moved over from the old leader must wait there, not fail.
    if (offset < this.log.startOffset && Number.isInteger(offset) && offset >= 0) {
      const { topic, partition } = this.#assignment;
      throw new OffsetEvicted(`offset ${offset} of partition '${topic}-${partition}' was deleted by retention; the oldest kept is ${this.log.startOffset}`, offset, this.log.startOffset);
    }
    if (offset > this.log.endOffset || offset < this.log.startOffset) {
      throw new ReplicaError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside partition '${this.#assignment.topic}-${this.#assignment.partition}' (offsets ${this.log.startOffset} to ${this.#highWatermark})`,
      );
    }
    const read = () => this.log.read(offset, { maxBytes: options.maxBytes, upTo: this.#highWatermark, headroom: options.headroom });
    let slice = read();
    if (slice.nextOffset === offset && options.waitMs > 0) {
      const highWatermark = this.#highWatermark;
      await this.#waitForChange(options.waitMs, () => this.#highWatermark > highWatermark);
      this.#ensureLeader();
      slice = read();
    }
    return slice;
  }

  /** Drops followers that left or lag from the in-sync set, adds those caught up, and asks the SC to record it. */
  checkIsr(now = this.#now()): void {
    if (this.#closed || !this.isLeader) return;
    const { leader, replicas, isr } = this.#assignment;
    const desired = desiredIsr({
      leader,
      replicas,
      isr,
      followers: this.#followers,
      highWatermark: this.#highWatermark,
      now,
      maxLagMs: MAX_LAG_MS,
    });
    if (sameIds(desired, isr)) {
      this.#proposed = null;
      return;
    }
    const proposed = this.#proposed;
    if (!proposed || !sameIds(proposed.isr, desired) || (proposed.answeredAt !== null && now - proposed.answeredAt >= ISR_RETRY_MS)) {
      this.#proposed = { isr: desired, answeredAt: null };
      this.#hooks.proposeIsr(desired);
      this.#advance();
    }
    const stuck = this.#stuckShrink();
    if (stuck) this.#failWaiters(stuck);
  }

  /** This replica's offsets, for a report to the SC. */
  report(): ReplicaReport {
    return {
      topic: this.#assignment.topic,
      partition: this.#assignment.partition,
      leaderEpoch: this.#assignment.leaderEpoch,
      isLeader: this.isLeader,
      endOffset: this.log.endOffset,
      highWatermark: this.#highWatermark,
      sizeBytes: this.log.sizeBytes(),
      highWatermarkKnown: this.highWatermarkKnown,
    };
  }

  /**
   * Cuts a follower's log at `offset`, where it leaves its leader's (with the history and high
   * watermark above it); an offset inside a batch drops that whole batch.
   */
  truncateTo(offset: number): void {
    offset = this.log.truncateTo(offset);
    this.#setEpochs(clampHistory(this.#epochs, offset));
    if (this.#highWatermark > offset) {
      this.#highWatermark = offset;
      this.#scheduleCheckpoint();
    }
  }

  /**
   * Deletes the closed segments its topic's retention time or maximum size no longer keeps,
   * never one holding records above the high watermark. Returns the new start offset, or null
   * when nothing was deleted.
   */
  applyRetention(): number | null {
    const { retentionSeconds, maxPartitionSize } = this.#assignment;
    if (retentionSeconds === undefined && maxPartitionSize === undefined) return null;
    const retentionMs = retentionSeconds === undefined ? undefined : retentionSeconds * 1000;
    return this.log.evictSegments({ retentionMs, maxBytes: maxPartitionSize, upTo: this.#highWatermark }, this.#now());
  }

  /**
   * Empties a follower whose log ends below its leader's start (retention there deleted the
   * records it lacks) and starts it at that start, with the leader's history before it: what
   * it missed is gone from the partition, so its next fetch goes on from there.
   */
  restartAt(offset: number, leaderEpochs: EpochEntry[]): void {
    this.log.resetTo(offset);
    this.#setEpochs(clampHistory(leaderEpochs, offset));
    this.#syncedEnd = offset;
    this.#highWatermark = offset;
    this.#scheduleCheckpoint();
  }

  /**
   * Stores what a follower fetched from its leader: `records` as the leader stored them
   * (frames CRC-checked, offsets continuing the log), fsynced; then the leader's history for
   * them; then its high watermark (kept for a later election). The history is on disk before
   * the next fetch acknowledges the records, so an acknowledged record's epoch always is (a
   * crash in between only makes the follower cut and fetch them again). If the records or
   * their history cannot be made durable, none of the records is kept and the error is thrown.
   */
  appendFromLeader(records: Uint8Array, leader: { epochs: EpochEntry[]; highWatermark: number }): void {
    const before = this.log.endOffset;
    // A failed append is undone by the log itself.
    if (records.length > 0) this.log.appendRaw(records);
    try {
      if (records.length > 0) this.log.sync();
      this.#setEpochs(clampHistory(leader.epochs, this.log.endOffset));
    } catch (error) {
      // Records not durable, or without their epochs on disk, must not be acknowledged by the next fetch's offset.
      if (this.log.endOffset > before) this.log.truncateTo(before);
      throw error;
    }
    const next = Math.min(leader.highWatermark, this.log.endOffset);
    if (next <= this.#highWatermark) return;
    this.#highWatermark = next;
    this.#scheduleCheckpoint();
  }

  /** Fails what waits on this replica, checkpoints the high watermark and closes the log. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failWaiters(new ReplicaError("NOT_LEADER", `partition '${this.#assignment.topic}-${this.#assignment.partition}' is closing on this SPU`));
    this.#wake();
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#tryCheckpoint();
    this.log.close();
  }

  #now(): number {
    return this.#hooks.now?.() ?? Date.now();
  }

  /** The in-sync set the high watermark honours: the SC's, plus any member of a change not yet confirmed. */
  #effectiveIsr(): number[] {
    const isr = [...this.#assignment.isr];
    for (const id of this.#proposed?.isr ?? []) if (!isr.includes(id)) isr.push(id);
    return isr;
  }

  #recordFetch(id: number, offset: number): void {
    const follower = this.#followers.get(id);
    if (!follower) return;
    follower.endOffset = offset;
    if (offset >= follower.lastSentEnd) follower.caughtUpAt = this.#now();
    this.#advance();
    if (!this.#assignment.isr.includes(id)) this.checkIsr();
  }

  #advance(): void {
    if (this.#closed || !this.isLeader) return;
    const next = Math.min(
      this.log.endOffset,
      highWatermark({
        leader: this.#selfId,
        leaderSyncedEnd: this.#syncedEnd,
        isr: this.#effectiveIsr(),
        followers: this.#followers,
        previous: this.#highWatermark,
      }),
    );
    if (next > this.#highWatermark) {
      this.#highWatermark = next;
      this.#wake();
      this.#scheduleCheckpoint();
      this.#hooks.changed();
    }
    if (this.#ackWaiters.length === 0) return;
    const waiting: AckWaiter[] = [];
    for (const waiter of this.#ackWaiters) {
      if (waiter.until <= this.#highWatermark) {
        clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        waiting.push(waiter);
      }
    }
    this.#ackWaiters = waiting;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#closed) return;
      try {
        this.log.sync();
      } catch (error) {
        if (!isDiskFull(error)) throw error;
        // What waits is not durable: it fails, and the producer may send it again.
        this.#failWaiters(this.#diskFullError());
        return;
      }
      this.#syncedEnd = this.log.endOffset;
      this.#advance();
      this.#hooks.changed();
    });
  }

  #waitForChange(waitMs: number, done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        resolve();
      };
      const check = () => {
        if (this.#closed || done()) finish();
      };
      const timer = setTimeout(finish, waitMs);
      this.#wakers.add(check);
    });
  }

  #wake(): void {
    for (const waker of [...this.#wakers]) waker();
  }

  /** Starts leading under the assignment's epoch: its own log, fsynced, is the partition's from now on. */
  #takeLead(): void {
    this.#ledEpoch = this.#assignment.leaderEpoch;
    // A follower's appends were fsynced before it acknowledged them; count them as synced.
    this.log.sync();
    this.#syncedEnd = this.log.endOffset;
    this.#leadStart = this.log.endOffset;
    this.#followers.clear();
    this.#proposed = null;
    this.#setEpochs(withEpoch(this.#epochs, this.#assignment.leaderEpoch, this.log.endOffset));
  }

  #setEpochs(next: EpochEntry[]): void {
    if (sameHistory(next, this.#epochs)) return;
    writeHistory(this.log.dir, next);
    this.#epochs = next;
  }

  /** The error for produces while the in-sync set must shrink and the SC cannot record it, else null. */
  #stuckShrink(): ReplicaError | null {
    const proposed = this.#proposed?.isr;
    if (!proposed || this.#hooks.scConnected() || this.#assignment.isr.every((id) => proposed.includes(id))) return null;
    const left = this.#assignment.isr.filter((id) => !proposed.includes(id));
    return new ReplicaError(
      "SC_UNREACHABLE",
      `partition '${this.#assignment.topic}-${this.#assignment.partition}' cannot acknowledge: in-sync replica(s) ${left.join(", ")} left and the SC, which must record it, is unreachable from SPU ${this.#selfId}`,
    );
  }

  #stepDown(): void {
    this.#ledEpoch = null;
    this.#followers.clear();
    this.#proposed = null;
    this.#failWaiters(
      new ReplicaError("NOT_LEADER", `SPU ${this.#selfId} no longer leads partition '${this.#assignment.topic}-${this.#assignment.partition}'`),
    );
    this.#wake();
  }

  #failWaiters(error: Error): void {
    for (const waiter of this.#ackWaiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  #ensureLeader(): void {
    if (this.#closed || !this.isLeader) {
      throw new ReplicaError(
        "NOT_LEADER",
        `SPU ${this.#selfId} does not lead partition '${this.#assignment.topic}-${this.#assignment.partition}' (SPU ${this.#assignment.leader} does)`,
      );
    }
  }

  #scheduleCheckpoint(delayMs = CHECKPOINT_INTERVAL_MS): void {
    if (this.#checkpointTimer) return;
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = null;
      const retryMs = this.#tryCheckpoint();
      if (retryMs !== undefined) this.#scheduleCheckpoint(retryMs);
    }, delayMs);
  }

  /**
   * Writes the high watermark checkpoint if it moved. A failure (a full disk) is logged and
   * survived: the checkpoint only spares a restarted leader a wait for its followers. Returns
   * how long to wait before trying again after a failure.
   */
  #tryCheckpoint(): number | undefined {
    if (this.#checkpointed === this.#highWatermark) return undefined;
    try {
      writeFileAtomic(join(this.log.dir, CHECKPOINT_FILE), `${this.#highWatermark}\n`);
    } catch (error) {
      const reason = isDiskFull(error) ? describeDiskFull(this.log.dir) : (error as Error).message;
      return this.#checkpointFailure.fail(reason);
    }
    this.#checkpointed = this.#highWatermark;
    this.#checkpointFailure.succeed();
    return undefined;
  }

  /** The error for a write of this replica's log (of `bytes`, when known) that found the disk full. */
  #diskFullError(bytes?: number): ReplicaError {
    const { topic, partition } = this.#assignment;
    return new ReplicaError("DISK_FULL", `SPU ${this.#selfId} cannot store partition '${topic}-${partition}': ${describeDiskFull(this.log.dir, bytes)}`);
  }
}

/** The checkpointed high watermark of the partition in `dir`; 0 when there is none. */
function readCheckpoint(dir: string): number {
  try {
    const value = Number(readFileSync(join(dir, CHECKPOINT_FILE), "utf8").trim());
    return Number.isInteger(value) && value >= 0 ? value : 0;
  } catch {
    return 0;
  }
}
