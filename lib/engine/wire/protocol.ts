/**
 * The control messages of the built-in engine, carried as frame headers (frame.ts).
 *
 * Every connection, SPU to SC and follower to leader, opens with:
 *   hello     the SPU's id and the cluster token (lib/cluster/token.ts); anything else, or a wrong
 *             token, is answered `refused` with a reason and the connection closed
 * except one that asks a daemon (SC or SPU) for its figures, as `cluster status` does:
 *   figures   the cluster token; answered `figures` with the daemon's public port figures
 *             (connections, bytes held; wire/fluvio/public-port.ts), then closed
 * SC to SPU:
 *   replicas  on connect: the full set of replicas this SPU holds (each with its topic's
 *             compression type and storage settings), with the private endpoints of the SPUs
 *             it fetches from and the consumer-offset partition's leader; a replica missing
 *             from the set is dropped with its data
 *   replica-changes  after that: only what changed, gathered over one turn of the SC's event
 *             loop: each changed replica's assignment as it stands, the replicas removed (their
 *             topic deleted), the endpoints when an SPU was registered or unregistered, and
 *             the consumer-offset partition's leader when it changed
 * SPU to SC:
 *   heartbeat every HEARTBEAT_INTERVAL_MS, so the SC can tell a hung SPU from an idle one
 *   report    end offset, high watermark and log bytes of the replicas whose figures changed: all of
 *             them after a full `replicas`, then at most every REPORT_INTERVAL_MS those that moved
 *   isr       a leader asks the SC to record new in-sync sets (those of one turn in one
 *             message); the SC answers each once, in a `replica-changes` holding that
 *             partition: the new set once persisted, or the set that stands (already recorded,
 *             or refused); the leader relies on a set only once told it. It asks again only for
 *             another set, or a while after a refusal
 * Follower to leader, on the leader's private port, one connection per partition:
 *   fetch     "send records from `offset`"; the offset also acknowledges that the follower
 *             holds, fsynced, everything before it (Kafka's pull replication). It carries the
 *             follower's leader-epoch history, so the leader counts the acknowledgement only
 *             when the follower's log is a prefix of its own (leader-epochs.ts)
 *   records   leader's answer; the body is log frames as stored, or empty after waiting
 *             up to `waitMs` for new records; with the leader's history, which the follower
 *             keeps for the records it holds. DIVERGING tells the follower to cut its log at
 *             `truncateTo` first; OFFSET_OUT_OF_RANGE below the leader's `startOffset` (its
 *             retention deleted what the follower lacks) has it start over there
 * Any SPU to the consumer-offset partition's leader, on its private port, one connection per request:
 *   consumer-offset  commit a consumer's offset, or read it, for a consumer whose stream is
 *             on the asking SPU (Fluvio's SPUs do the same on their private port:
 *             fluvio-spu services/internal); answered `consumer-offset` with the offset kept
 *             (null for none), or the refusal, then closed
 */

import type { EpochEntry } from "../storage/leader-epochs.ts";
import type { AssignmentChanges, FetchRefusal, FollowerFetch, IsrChange, ReplicaReport, SpuAssignment } from "../model/replica-info.ts";

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

/** The first and only frame of a connection that asks a daemon for its figures. */
export interface FiguresRequest {
  type: "figures";
  /** The cluster token; the value is never logged. */
  token: string;
}

/** The answer to a FiguresRequest, just before the connection closes. */
export interface FiguresMessage {
  type: "figures";
  publicPort: PublicPortFigures;
}

/** The answer to a hello that is not accepted, just before the connection closes. */
export interface RefusedMessage {
  type: "refused";
  reason: string;
}

/** What a public port holds now, and what it has closed since it started. */
export interface PublicPortFigures {
  connections: number;
  /** Bytes received of frames not yet whole, across all connections. */
  heldBytes: number;
  /** Those frames' sizes as their prefixes give them: what they will hold once whole (the cap's measure). */
  pendingBytes: number;
  /** Connections closed because a frame was not whole within the deadline. */
  closedPastDeadline: number;
  /** Connections closed to bring the frames not yet whole under the cap. */
  closedOverPendingBytes: number;
  /** Connections closed as they opened, past the cap on connections. */
  refusedConnections: number;
}

/** SC to SPU: every replica the SPU holds (a full set, not a change). */
export interface ReplicasMessage extends SpuAssignment {
  type: "replicas";
}

/** SC to SPU: what changed of its replicas since the last message. */
export interface ReplicaChangesMessage extends AssignmentChanges {
  type: "replica-changes";
}

/** SPU to SC: the offsets of its replicas. */
export interface ReportMessage {
  type: "report";
  replicas: ReplicaReport[];
}

/** Leader to SC: record these in-sync sets (each refused unless from the leader at the current epoch). */
export interface IsrMessage {
  type: "isr";
  changes: IsrChange[];
}

/** Follower to leader, on the leader's private port: a fetch for one partition. */
export interface FetchMessage extends FollowerFetch {
  type: "fetch";
  topic: string;
  partition: number;
}

/** Leader to follower: the answer to a fetch; its body holds the records as log frames. */
export interface RecordsMessage {
  type: "records";
  /** Offset of the first record in the body. */
  offset: number;
  endOffset: number;
  highWatermark: number;
  /** The leader's log start offset (absent from a leader before retention). */
  startOffset?: number;
  /** The leader's leader-epoch history. */
  epochs: EpochEntry[];
  error?: FetchRefusal;
  /** With DIVERGING: where the follower's log leaves the leader's. */
  truncateTo?: number;
}

/** Any SPU to the consumer-offset leader: commit (`offset` given) or read the offset of `consumerId` on a partition. */
export interface ConsumerOffsetRequestMessage {
  type: "consumer-offset";
  topic: string;
  partition: number;
  consumerId: string;
  /** The offset to commit; absent to read the one kept. */
  offset?: number;
}

/** The leader's answer: the offset kept after the request (null for none), or why it was refused. */
export interface ConsumerOffsetAnswerMessage {
  type: "consumer-offset";
  offset: number | null;
  /** NOT_LEADER when the asked SPU does not lead the consumer-offset partition; else a failure's message. */
  error?: string;
}

/** SC to SPU: the hello is accepted; the SPU is online from now on. */
export interface AcceptedMessage {
  type: "accepted";
}

/** SPU to SC, every HEARTBEAT_INTERVAL_MS. */
export interface HeartbeatMessage {
  type: "heartbeat";
}

/** What an SPU sends the SC after its hello. */
export type SpuToScMessage = HeartbeatMessage | ReportMessage | IsrMessage;
/** What the SC sends an SPU after accepting it. */
export type ScToSpuMessage = AcceptedMessage | ReplicasMessage | ReplicaChangesMessage;

type Header = { type: string; [key: string]: unknown };
type FieldType = "number" | "string" | "boolean" | "array";

/** Throws unless each named field of `object` has its type; `what` names the object in the message. */
function expectFields(object: unknown, fields: Record<string, FieldType>, what: string): void {
  if (typeof object !== "object" || object === null) throw new Error(`malformed ${what}: not an object`);
  for (const [name, type] of Object.entries(fields)) {
    const value = (object as Record<string, unknown>)[name];
    const ok = type === "array" ? Array.isArray(value) : typeof value === type;
    if (!ok) throw new Error(`malformed ${what}: '${name}' is not a${type === "array" ? "n" : ""} ${type}`);
  }
}

function expectEach(items: unknown[], fields: Record<string, FieldType>, what: string): void {
  for (const item of items) expectFields(item, fields, what);
}

const ASSIGNMENT_FIELDS: Record<string, FieldType> = {
  topic: "string",
  topicId: "string",
  partition: "number",
  replicas: "array",
  leader: "number",
  leaderEpoch: "number",
  isr: "array",
};

/** A `hello` header as a HelloMessage; throws on a malformed one. */
export function readHello(header: Header): HelloMessage {
  expectFields(header, { spuId: "number", token: "string" }, "hello");
  return header as unknown as HelloMessage;
}

/** A daemon's `figures` answer; throws on anything else. */
export function readFigures(header: Header): FiguresMessage {
  if (header.type !== "figures") throw new Error(`unexpected message '${header.type}' where figures were asked for`);
  expectFields(header.publicPort, { connections: "number", heldBytes: "number", pendingBytes: "number", closedPastDeadline: "number", closedOverPendingBytes: "number", refusedConnections: "number" }, "figures");
  return header as unknown as FiguresMessage;
}

/** A frame header an SPU sent the SC; throws on an unknown type or a malformed message. */
export function readSpuToSc(header: Header): SpuToScMessage {
  switch (header.type) {
    case "heartbeat":
      return header as HeartbeatMessage;
    case "report":
      expectFields(header, { replicas: "array" }, "report");
      expectEach(header.replicas as unknown[], { topic: "string", partition: "number", leaderEpoch: "number", endOffset: "number", highWatermark: "number", highWatermarkKnown: "boolean" }, "report entry");
      return header as unknown as ReportMessage;
    case "isr":
      expectFields(header, { changes: "array" }, "isr");
      expectEach(header.changes as unknown[], { topic: "string", partition: "number", leaderEpoch: "number", isr: "array" }, "in-sync set change");
      return header as unknown as IsrMessage;
    default:
      throw new Error(`unexpected message '${header.type}' from an SPU`);
  }
}

/** Throws unless the consumer-offset leader, when there, is an SPU id or null. */
function expectConsumerOffsetLeader(header: Header): void {
  const leader = header.consumerOffsetLeader;
  if (leader !== undefined && leader !== null && typeof leader !== "number") throw new Error("malformed assignment: 'consumerOffsetLeader' is not a number");
}

/** A frame header the SC sent an SPU; throws on an unknown type or a malformed message. */
export function readScToSpu(header: Header): ScToSpuMessage {
  switch (header.type) {
    case "accepted":
      return header as AcceptedMessage;
    case "replicas":
      expectFields(header, { spus: "array", replicas: "array" }, "replicas");
      expectEach(header.spus as unknown[], { id: "number", host: "string", privatePort: "number" }, "replicas' SPU");
      expectEach(header.replicas as unknown[], ASSIGNMENT_FIELDS, "replica assignment");
      expectConsumerOffsetLeader(header);
      return header as unknown as ReplicasMessage;
    case "replica-changes":
      expectFields(header, { replicas: "array", removed: "array" }, "replica changes");
      if (header.spus !== undefined) {
        expectFields(header, { spus: "array" }, "replica changes");
        expectEach(header.spus as unknown[], { id: "number", host: "string", privatePort: "number" }, "replica changes' SPU");
      }
      expectEach(header.replicas as unknown[], ASSIGNMENT_FIELDS, "replica assignment");
      expectConsumerOffsetLeader(header);
      expectEach(header.removed as unknown[], { topic: "string", topicId: "string", partition: "number" }, "removed replica");
      return header as unknown as ReplicaChangesMessage;
    default:
      throw new Error(`unexpected message '${header.type}' from the SC`);
  }
}

/** A follower's `fetch` header; throws on anything else. */
export function readFetch(header: Header): FetchMessage {
  if (header.type !== "fetch") throw new Error(`unexpected message '${header.type}' from a follower`);
  expectFields(
    header,
    { topic: "string", partition: "number", replicaId: "number", leaderEpoch: "number", offset: "number", maxBytes: "number", waitMs: "number", epochs: "array" },
    "fetch",
  );
  return header as unknown as FetchMessage;
}

/** A leader's `records` header; throws on anything else. */
export function readRecords(header: Header): RecordsMessage {
  if (header.type !== "records") throw new Error(`unexpected message '${header.type}' from a leader`);
  expectFields(header, { offset: "number", endOffset: "number", highWatermark: "number", epochs: "array" }, "records");
  return header as unknown as RecordsMessage;
}

/** A `consumer-offset` request from a peer SPU; throws on a malformed one. */
export function readConsumerOffsetRequest(header: Header): ConsumerOffsetRequestMessage {
  expectFields(header, { topic: "string", partition: "number", consumerId: "string" }, "consumer-offset request");
  if (header.offset !== undefined && typeof header.offset !== "number") throw new Error("malformed consumer-offset request: 'offset' is not a number");
  return header as unknown as ConsumerOffsetRequestMessage;
}

/** The consumer-offset leader's answer; throws on anything else. */
export function readConsumerOffsetAnswer(header: Header): ConsumerOffsetAnswerMessage {
  if (header.type !== "consumer-offset") throw new Error(`unexpected message '${header.type}' from the consumer-offset leader`);
  if (header.offset !== null && typeof header.offset !== "number") throw new Error("malformed consumer-offset answer: 'offset' is not a number");
  return header as unknown as ConsumerOffsetAnswerMessage;
}
