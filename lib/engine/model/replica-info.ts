/**
 * What the two planes say about a replica: the control plane assigns it (leader, epoch,
 * in-sync set) and the data plane reports its offsets. The internal links carry both
 * (wire/protocol.ts), but they are the engine's own terms, not a wire format.
 */
import type { EpochEntry } from "../storage/leader-epochs.ts";

/** Fluvio's partition of consumer offsets (fluvio-types defaults.rs CONSUMER_REPLICA_KEY): its leader keeps them. */
export const CONSUMER_OFFSET_PARTITION = { topic: "consumer-offset", partition: 0 } as const;

/** A produce that names no timeout fails if the in-sync replicas do not all have its batch by then. */
export const PRODUCE_TIMEOUT_MS = 30_000;

/** One replica as the SC assigns it to an SPU. */
export interface ReplicaAssignmentInfo {
  topic: string;
  topicId: string;
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
  /** The topic's compression type as Fluvio names it ("Any", "None", "Gzip", ...); absent from an SC before it was sent, meaning "Any". */
  compressionType?: string;
  /** The topic's storage settings (topic-config.ts); each absent when the topic has the default. */
  retentionSeconds?: number;
  segmentSize?: number;
  maxPartitionSize?: number;
}

/** One replica's offsets as its SPU reports them. */
export interface ReplicaReport {
  topic: string;
  partition: number;
  leaderEpoch: number;
  isLeader: boolean;
  endOffset: number;
  highWatermark: number;
  /** Bytes of its log's segments (Fluvio's partition size). */
  sizeBytes: number;
  /**
   * A leader's high watermark has reached its log end when it took the lead. It was in the
   * in-sync set, so every record acknowledged before lies below that end: until then its high
   * watermark may trail what was acknowledged (Kafka's KIP-207), and readers would see less.
   * Always false for a follower.
   */
  highWatermarkKnown: boolean;
}

/** A leader asks the control plane to record this in-sync set (refused unless it leads at that epoch). */
export interface IsrChange {
  topic: string;
  partition: number;
  leaderEpoch: number;
  isr: number[];
}

/** Where an SPU's followers reach it. */
export interface SpuPrivateEndpoint {
  id: number;
  host: string;
  privatePort: number;
}

/**
 * Everything one SPU holds: each replica's assignment, every SPU's private endpoint (to reach
 * leaders), and which SPU leads the consumer-offset partition (null while it has none), so a
 * consumer's commit on any SPU reaches the one that keeps the offsets, as every Fluvio SPU knows
 * every partition's leader.
 */
export interface SpuAssignment {
  spus: SpuPrivateEndpoint[];
  replicas: ReplicaAssignmentInfo[];
  consumerOffsetLeader?: number | null;
}

/** A replica an SPU no longer holds (its topic was deleted). */
export interface RemovedReplica {
  topic: string;
  topicId: string;
  partition: number;
}

/**
 * What changed of one SPU's replicas since it was last told: each replica whose assignment
 * changed (as it stands now), those removed, every SPU's private endpoint when those changed,
 * and the consumer-offset partition's leader when it changed.
 */
export interface AssignmentChanges {
  spus?: SpuPrivateEndpoint[];
  /** Present when the consumer-offset partition's leader changed. */
  consumerOffsetLeader?: number | null;
  replicas: ReplicaAssignmentInfo[];
  removed: RemovedReplica[];
}

/** A follower's fetch from its leader: records from `offset`, which also acknowledges everything before it. */
export interface FollowerFetch {
  replicaId: number;
  leaderEpoch: number;
  offset: number;
  maxBytes: number;
  waitMs: number;
  /** The follower's leader-epoch history for the records below `offset`. */
  epochs: EpochEntry[];
}

/** Why a fetch gets no records: the follower waits for a new assignment, or (DIVERGING) truncates to `truncateTo`. */
export type FetchRefusal = "NOT_LEADER" | "FENCED" | "OFFSET_OUT_OF_RANGE" | "DIVERGING";

/** The leader's answer to a fetch. */
export interface FetchResult {
  endOffset: number;
  highWatermark: number;
  /** The leader's log start: with OFFSET_OUT_OF_RANGE below it, the follower starts over there. */
  startOffset?: number;
  /** The leader's leader-epoch history. */
  epochs: EpochEntry[];
  /** Records from the fetch offset, as log frames (empty when refused or when none came in time). */
  records: Uint8Array;
  refusal?: FetchRefusal;
  /** With DIVERGING: where the follower's log leaves the leader's. */
  truncateTo?: number;
}

/** "topic/partition", the key of a replica in maps. */
export function replicaKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
