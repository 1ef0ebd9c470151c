/**
 * A follower's side of replication: one connection to the leader's private port per partition,
 * one fetch in flight. Each answer is appended as the leader stored it (frames CRC-checked and
 * offsets checked to continue the log), fsynced, and only then is the next fetch sent: its
 * offset is the acknowledgement the leader waits for before it acknowledges a producer.
 * Each fetch carries the follower's leader-epoch history; when its log leaves the leader's
 * (it led before, or followed a leader that lost its place), the leader answers DIVERGING and
 * the follower cuts its log there before fetching again. A connection opens with a `hello`
 * carrying the cluster token; a leader that refuses it closes the link, and it is tried again.
 *
 * Records that cannot be stored because the disk is full are fetched again after a capped
 * exponential backoff, on the same link; the leader meanwhile sees this follower lag and
 * drops it from the in-sync set, and takes it back once it has caught up (isr.ts).
 */
import { log } from "../daemon/log.ts";
import { RepeatedFailure } from "../daemon/repeated-failure.ts";
import { describeDiskFull, isDiskFull } from "../storage/disk-full.ts";
import { encodeFrame } from "../wire/frame.ts";
import { HelloClient } from "../wire/handshake.ts";
import type { Link } from "../wire/link.ts";
import { readRecords, type FetchMessage, type RecordsMessage } from "../wire/protocol.ts";
import { FAILURE_LOG_INTERVAL_MS, type Replica } from "./replica.ts";

/** Most bytes of records asked for in one fetch. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
/** How long a leader holds a fetch that finds no new records. */
const FETCH_WAIT_MS = 500;
/** How soon a fetch the leader refused (it does not lead this epoch yet) is asked again. */
const REFUSED_FETCH_RETRY_MS = 250;
/** After records could not be stored for want of disk space, the next fetch waits this long, doubling up to STORE_MAX_RETRY_MS. */
const STORE_FIRST_RETRY_MS = 100;
const STORE_MAX_RETRY_MS = 5_000;

/** Keeps one follower replica fetching from its leader until stopped (reconnecting after any failure). */
export class FollowerFetcher {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly #replica: Replica;
  readonly #selfId: number;
  readonly #changed: () => void;
  readonly #link: HelloClient;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #storeFailure: RepeatedFailure;

  constructor(options: {
    replica: Replica;
    selfId: number;
    token: string;
    leaderAddress: { host: string; port: number };
    changed: () => void;
  }) {
    this.#replica = options.replica;
    this.#selfId = options.selfId;
    this.#changed = options.changed;
    this.leader = options.replica.assignment.leader;
    this.leaderEpoch = options.replica.assignment.leaderEpoch;
    this.#storeFailure = new RepeatedFailure({
      what: `replica '${this.#name()}' storing records from leader SPU ${this.leader}`,
      firstDelayMs: STORE_FIRST_RETRY_MS,
      maxDelayMs: STORE_MAX_RETRY_MS,
      logIntervalMs: FAILURE_LOG_INTERVAL_MS,
    });
    this.#link = new HelloClient(options.leaderAddress, {
      spuId: this.#selfId,
      token: options.token,
      peer: `leader SPU ${this.leader}`,
      self: `replica '${this.#name()}'`,
      opened: (link) => this.#fetch(link, 0),
      onFrame: (frame, link) => this.#onRecords(link, readRecords(frame.header), frame.body),
      closed: () => clearTimeout(this.#timer),
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#link.stop();
  }

  #fetch(socket: Link, waitMs: number): void {
    if (this.#stopped || socket.destroyed) return;
    const { topic, partition } = this.#replica.assignment;
    const request: FetchMessage = {
      type: "fetch",
      topic,
      partition,
      replicaId: this.#selfId,
      leaderEpoch: this.leaderEpoch,
      offset: this.#replica.endOffset,
      maxBytes: FETCH_MAX_BYTES,
      waitMs,
      epochs: this.#replica.epochs,
    };
    socket.write(encodeFrame(request));
  }

  #onRecords(socket: Link, answer: RecordsMessage, body: Uint8Array): void {
    if (this.#stopped) return;
    if (answer.error === "DIVERGING" && answer.truncateTo !== undefined && answer.truncateTo < this.#replica.endOffset) {
      // Records from there on are not the leader's: no one acknowledged them under this epoch.
      log(
        `replica '${this.#name()}' truncates from offset ${this.#replica.endOffset} to ${answer.truncateTo}, ` +
          `where its log leaves leader SPU ${this.leader}'s (epoch ${this.leaderEpoch})`,
      );
      this.#replica.truncateTo(answer.truncateTo);
      this.#changed();
      this.#fetch(socket, 0);
      return;
    }
    if (answer.error === "OFFSET_OUT_OF_RANGE" && answer.startOffset !== undefined && answer.startOffset > this.#replica.endOffset) {
      log(
        `replica '${this.#name()}' starts over at offset ${answer.startOffset}, leader SPU ${this.leader}'s start: ` +
          `retention there deleted offsets ${this.#replica.endOffset} to ${answer.startOffset - 1}, which it lacks`,
      );
      this.#replica.restartAt(answer.startOffset, answer.epochs ?? []);
      this.#changed();
      this.#fetch(socket, 0);
      return;
    }
    if (answer.error) {
      // The leader does not (yet) see this partition as we do: ask again shortly, or stop when the SC reassigns it.
      this.#timer = setTimeout(() => this.#fetch(socket, FETCH_WAIT_MS), REFUSED_FETCH_RETRY_MS);
      return;
    }
    try {
      this.#replica.appendFromLeader(body, { epochs: answer.epochs ?? [], highWatermark: answer.highWatermark });
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      const delayMs = this.#storeFailure.fail(describeDiskFull(this.#replica.dir, body.length));
      this.#timer = setTimeout(() => this.#fetch(socket, 0), delayMs);
      return;
    }
    this.#storeFailure.succeed();
    this.#link.answered();
    this.#changed();
    this.#fetch(socket, body.length > 0 ? 0 : FETCH_WAIT_MS);
  }

  #name(): string {
    return `${this.#replica.assignment.topic}-${this.#replica.assignment.partition}`;
  }
}
