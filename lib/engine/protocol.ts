/**
 * The control messages of the built-in engine, carried as frame headers (frame.ts).
 *
 * Every connection, SPU to SC and follower to leader, opens with:
 *   hello     the SPU's id and the cluster token (lib/token.ts); anything else, or a wrong
 *             token, is answered `refused` with a reason and the connection closed
 * SC to SPU, on connect and after every change:
 *   replicas  the full set of replicas this SPU holds, with the private endpoints of the SPUs
 *             it fetches from; a replica missing from the set is dropped with its data
 * SPU to SC:
 *   heartbeat every HEARTBEAT_INTERVAL_MS, so the SC can tell a hung SPU from an idle one
 *   report    end offset and high watermark of each replica, after every assignment and then
 *             at most every REPORT_INTERVAL_MS while they change
 *   isr       a leader asks the SC to record a new in-sync set; the SC persists it and
 *             answers with a new `replicas` message, after which the leader relies on it
 * Follower to leader, on the leader's private port, one connection per partition:
 *   fetch     "send records from `offset`"; the offset also acknowledges that the follower
 *             holds, fsynced, everything before it (Kafka's pull replication). It carries the
 *             follower's leader-epoch history, so the leader counts the acknowledgement only
 *             when the follower's log is a prefix of its own (leader-epochs.ts)
 *   records   leader's answer; the body is log frames as stored, or empty after waiting
 *             up to `waitMs` for new records; with the leader's history, which the follower
 *             keeps for the records it holds. DIVERGING tells the follower to cut its log at
 *             `truncateTo` first
 */

import type { EpochEntry } from "./leader-epochs.ts";

/**
 * How often at most an SPU reports its replicas' offsets to the SC. Shorter than a CLI's
 * start-up (about 45 ms), so a `status` run right after a `produce` shows the new end offset;
 * a report is one small frame, so 50 a second cost the SC nothing it would notice.
 */
export const REPORT_INTERVAL_MS = 20;
/** How often an SPU tells the SC it is alive. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** A connection to a private port that has not completed its `hello` this long after its last byte is closed. */
export const HELLO_TIMEOUT_MS = 3_000;

/** The first frame of every connection to the SC's or an SPU's private port. */
export interface HelloMessage {
  type: "hello";
  spuId: number;
  /** The cluster token; the value is never logged. */
  token: string;
}

/** The answer to a hello that is not accepted, just before the connection closes. */
export interface RefusedMessage {
  type: "refused";
  reason: string;
}

/** One replica as the SC assigns it to an SPU. */
export interface ReplicaAssignmentInfo {
  topic: string;
  topicId: string;
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

/** SC to SPU: every replica the SPU holds (a full set, not a change). */
export interface ReplicasMessage {
  type: "replicas";
  /** Private endpoints of every registered SPU, for followers to reach their leaders. */
  spus: { id: number; host: string; privatePort: number }[];
  replicas: ReplicaAssignmentInfo[];
}

/** One replica's offsets as its SPU reports them. */
export interface ReplicaReport {
  topic: string;
  partition: number;
  leaderEpoch: number;
  isLeader: boolean;
  endOffset: number;
  highWatermark: number;
}

/** SPU to SC: the offsets of its replicas. */
export interface ReportMessage {
  type: "report";
  replicas: ReplicaReport[];
}

/** Leader to SC: record this in-sync set for the partition (refused unless from the leader at the current epoch). */
export interface IsrMessage {
  type: "isr";
  topic: string;
  partition: number;
  leaderEpoch: number;
  isr: number[];
}

/** Follower to leader: records from `offset`, which also acknowledges everything before it. */
export interface FetchMessage {
  type: "fetch";
  topic: string;
  partition: number;
  replicaId: number;
  leaderEpoch: number;
  offset: number;
  maxBytes: number;
  waitMs: number;
  /** The follower's leader-epoch history for the records below `offset`. */
  epochs: EpochEntry[];
}

/** Why a fetch got no records: the follower waits for a new assignment, or (DIVERGING) truncates to `truncateTo`. */
export type FetchError = "NOT_LEADER" | "FENCED" | "OFFSET_OUT_OF_RANGE" | "DIVERGING";

/** Leader to follower: the answer to a fetch; its body holds the records as log frames. */
export interface RecordsMessage {
  type: "records";
  /** Offset of the first record in the body. */
  offset: number;
  endOffset: number;
  highWatermark: number;
  /** The leader's leader-epoch history. */
  epochs: EpochEntry[];
  error?: FetchError;
  /** With DIVERGING: where the follower's log leaves the leader's. */
  truncateTo?: number;
}

/** "topic/partition", the key of a replica in maps. */
export function replicaKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
