/**
 * Consumer offsets, kept as Fluvio keeps them (fluvio-spu src/kv/consumer.rs,
 * services/public/consumer_handler.rs): the SPU leading the consumer-offset partition holds
 * every consumer's last offset in memory and appends each change to that partition as a record
 * (wire/fluvio/consumer-offsets.ts says the encoding, Fluvio's own), through the replica's
 * produce: fsynced and acknowledged by its in-sync replicas before the change is answered.
 * When the replica starts leading (a resume, or a new epoch), the table is rebuilt from its
 * log on first use: the entries after the last checkpoint. After more than
 * CHANGES_PER_CHECKPOINT changes a checkpoint batch writes the whole table again, so a
 * rebuild never needs older entries than that batch.
 *
 * Any SPU commits for the streams it serves: on the leader the table takes it, elsewhere it is
 * sent to the leader's private port (follower-links.ts serves it there), one connection per
 * request, as Fluvio's SPU sends it to its peer. The leader is the one the SC last named
 * (replica-manager.ts `consumerOffsetLeader`).
 *
 * NOTE: the consumer-offset partition has one replica, as Fluvio's SC makes it: while its SPU
 * is down, commits, lists and deletes fail until it is back (`cluster resume`), with nothing
 * kept lost.
 */
import { log } from "../daemon/log.ts";
import { CONSUMER_OFFSET_PARTITION } from "../model/replica-info.ts";
import { partitionName } from "../model/topic-name.ts";
import { encodeFrame, FrameReader } from "../wire/frame.ts";
import { connectLink } from "../wire/link.ts";
import { readConsumerOffsetAnswer, type ConsumerOffsetAnswerMessage, type ConsumerOffsetRequestMessage, type HelloMessage } from "../wire/protocol.ts";
import {
  decodeConsumerOffsetEntry,
  encodeConsumerOffsetEntry,
  type ConsumerOffset,
  type ConsumerOffsetEntry,
  type ConsumerOffsetKey,
  type ReplicaKey,
  type StoredConsumerOffset,
} from "../wire/fluvio/consumer-offsets.ts";
import { decodeBatches, encodeRecords } from "../wire/fluvio/record-batch.ts";
import type { Replica } from "./replica.ts";
import type { ReplicaManager } from "./replica-manager.ts";

/** Changes between two checkpoints (Fluvio's DEFAULT_FLUSH_THRESHOLD). */
const CHANGES_PER_CHECKPOINT = 100;
/** Most bytes read from the log at a time while rebuilding. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;
/** How long the leader gets to answer a forwarded request. */
const PEER_TIMEOUT_MS = 5_000;

export type ConsumerOffsetErrorCode =
  /** This SPU does not lead the consumer-offset partition. */
  | "NOT_LEADER"
  /** The SC names no leader of it (the topic is not made yet). */
  | "NO_PARTITION"
  /** The SC named a leader this SPU has no endpoint of. */
  | "NO_SPU"
  /** The leader did not take it: unreachable, refused, or its write failed. */
  | "FAILED";

/** A consumer-offset request this SPU could not serve, in the engine's terms. */
export class ConsumerOffsetError extends Error {
  readonly code: ConsumerOffsetErrorCode;

  constructor(code: ConsumerOffsetErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function keyOf(replica: ReplicaKey, consumerId: string): string {
  return JSON.stringify([replica.topic, replica.partition, consumerId]);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The offsets of one leadership of the consumer-offset replica: its table, and its writes one at a time. */
class OffsetTable {
  readonly replica: Replica;
  readonly epoch: number;
  readonly #entries = new Map<string, { key: ConsumerOffsetKey; value: StoredConsumerOffset }>();
  #changesSinceCheckpoint = 0;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(replica: Replica) {
    this.replica = replica;
    this.epoch = replica.assignment.leaderEpoch;
  }

  /** Replays the log from its start to its high watermark; returns the records that hold no entry. */
  async rebuild(): Promise<number> {
    let offset = this.replica.startOffset;
    let unreadable = 0;
    while (offset < this.replica.highWatermark) {
      const slice = await this.replica.consume(offset, { maxBytes: REBUILD_READ_BYTES, waitMs: 0 });
      if (slice.nextOffset === offset) break;
      for (const batch of decodeBatches(slice.bytes)) {
        for (const record of batch.records) {
          if (batch.baseOffset + record.offsetDelta < offset) continue;
          try {
            this.#apply(decodeConsumerOffsetEntry(record.value));
          } catch {
            unreadable++;
          }
        }
      }
      offset = slice.nextOffset;
    }
    return unreadable;
  }

  /** Resolves once every write asked of this table so far is done (or failed). */
  settled(): Promise<void> {
    return this.#writes.then(() => {});
  }

  get(key: ConsumerOffsetKey): StoredConsumerOffset | undefined {
    return this.#entries.get(keyOf(key.replica, key.consumerId))?.value;
  }

  list(): { key: ConsumerOffsetKey; value: StoredConsumerOffset }[] {
    return [...this.#entries.values()];
  }

  put(key: ConsumerOffsetKey, offset: number): Promise<void> {
    return this.#write({ type: "updated", key, value: { offset, modifiedTime: nowSeconds() } });
  }

  /** Resolves false (and writes nothing) when the key has no offset. */
  delete(key: ConsumerOffsetKey): Promise<boolean> {
    return this.#serial(async () => {
      if (!this.get(key)) return false;
      await this.#append([{ type: "deleted", key }]);
      return true;
    });
  }

  /** Deletes every offset kept on the partitions `replicas` (in one batch); resolves to how many. */
  deleteReplicas(replicas: ReplicaKey[]): Promise<number> {
    return this.#serial(async () => {
      const gone = this.list().filter(({ key }) => replicas.some((replica) => replica.topic === key.replica.topic && replica.partition === key.replica.partition));
      if (gone.length > 0) await this.#append(gone.map(({ key }) => ({ type: "deleted" as const, key })));
      return gone.length;
    });
  }

  #write(entry: ConsumerOffsetEntry): Promise<void> {
    return this.#serial(() => this.#append([entry]));
  }

  /** Runs `work` after every write before it, so the table changes in the log's order. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const done = this.#writes.then(work);
    this.#writes = done.catch(() => {});
    return done;
  }

  /** Appends `entries` as one batch, then applies them; then a checkpoint when one is due. */
  async #append(entries: ConsumerOffsetEntry[]): Promise<void> {
    await this.#produce(entries);
    for (const entry of entries) this.#apply(entry);
    this.#changesSinceCheckpoint += entries.length;
    if (this.#changesSinceCheckpoint <= CHANGES_PER_CHECKPOINT) return;
    const snapshot: ConsumerOffsetEntry[] = [{ type: "checkpoint" }, ...this.list().map(({ key, value }) => ({ type: "updated" as const, key, value }))];
    await this.#produce(snapshot);
    this.#changesSinceCheckpoint = 0;
  }

  async #produce(entries: ConsumerOffsetEntry[]): Promise<void> {
    const records = entries.map((entry) => ({ attributes: 0, timestampDelta: 0, key: null, value: encodeConsumerOffsetEntry(entry) }));
    await this.replica.produce(encodeRecords(records, { baseOffset: 0, firstTimestamp: Date.now() }));
  }

  #apply(entry: ConsumerOffsetEntry): void {
    if (entry.type === "checkpoint") {
      this.#entries.clear();
      return;
    }
    const id = keyOf(entry.key.replica, entry.key.consumerId);
    if (entry.type === "deleted") this.#entries.delete(id);
    else this.#entries.set(id, { key: entry.key, value: entry.value });
  }
}

/** What the offsets need of an SPU's replicas (replica-manager.ts). */
export type OffsetReplicas = Pick<ReplicaManager, "get" | "consumerOffsetLeader" | "privateEndpointOf">;

/** One SPU's way to the consumer offsets: its own table while it leads their partition, its peer's otherwise. */
export class ConsumerOffsets {
  readonly #replicas: OffsetReplicas;
  readonly #selfId: number;
  readonly #token: string;
  /** The table of the current leadership, being read back or ready. */
  #table: { replica: Replica; epoch: number; ready: Promise<OffsetTable>; settled(): Promise<void> } | undefined;

  constructor(replicas: OffsetReplicas, options: { selfId: number; token: string }) {
    this.#replicas = replicas;
    this.#selfId = options.selfId;
    this.#token = options.token;
  }

  /** Commits `offset` (the last read) for `consumerId` on partition `replica`: here if this SPU leads the offsets, else at their leader. */
  async commit(replica: ReplicaKey, consumerId: string, offset: number): Promise<void> {
    if (this.#leads()) return (await this.#local()).put({ replica, consumerId }, offset);
    await this.#askLeader({ type: "consumer-offset", topic: replica.topic, partition: replica.partition, consumerId, offset });
  }

  /** The offset `consumerId` last committed on partition `replica`, or null: read here or at their leader. */
  async committed(replica: ReplicaKey, consumerId: string): Promise<number | null> {
    if (this.#leads()) return (await this.#local()).get({ replica, consumerId })?.offset ?? null;
    const answer = await this.#askLeader({ type: "consumer-offset", topic: replica.topic, partition: replica.partition, consumerId });
    return answer.offset;
  }

  /** Every offset kept that matches the filters; only on the leader (NOT_LEADER elsewhere, as Fluvio's SPU answers). */
  async list(filters: { replica: ReplicaKey | null; consumerId: string | null } | null): Promise<ConsumerOffset[]> {
    const table = await this.#local();
    return table
      .list()
      .filter(({ key }) => {
        if (filters?.consumerId != null && key.consumerId !== filters.consumerId) return false;
        if (filters?.replica && (key.replica.topic !== filters.replica.topic || key.replica.partition !== filters.replica.partition)) return false;
        return true;
      })
      .map(({ key, value }) => ({ consumerId: key.consumerId, replica: key.replica, offset: value.offset, modifiedTime: value.modifiedTime }));
  }

  /** Deletes the offset of `consumerId` on `replica`; only on the leader. Resolves false when there was none. */
  async delete(replica: ReplicaKey, consumerId: string): Promise<boolean> {
    return (await this.#local()).delete({ replica, consumerId });
  }

  /**
   * Drops the offsets kept on `partitions`, whose topic was deleted, as Fluvio's SPU does
   * (global_context.rs `delete_consumers_offset`); nothing where this SPU does not keep them.
   */
  async forgetPartitions(partitions: ReplicaKey[]): Promise<number> {
    if (!this.#leads()) return 0;
    return (await this.#local()).deleteReplicas(partitions);
  }

  /** Serves a peer SPU's request on the private port: never rejects, a failure is its answer. */
  async servePeer(request: ConsumerOffsetRequestMessage): Promise<ConsumerOffsetAnswerMessage> {
    const replica = { topic: request.topic, partition: request.partition };
    try {
      if (!this.#leads()) throw new ConsumerOffsetError("NOT_LEADER", this.#notLeader());
      const table = await this.#local();
      if (request.offset !== undefined) await table.put({ replica, consumerId: request.consumerId }, request.offset);
      return { type: "consumer-offset", offset: table.get({ replica, consumerId: request.consumerId })?.offset ?? null };
    } catch (error) {
      const refusal = error instanceof ConsumerOffsetError && error.code === "NOT_LEADER" ? "NOT_LEADER" : (error as Error).message;
      return { type: "consumer-offset", offset: null, error: refusal };
    }
  }

  #leads(): boolean {
    const { topic, partition } = CONSUMER_OFFSET_PARTITION;
    return this.#replicas.get(topic, partition)?.isLeader ?? false;
  }

  #notLeader(): string {
    const { topic, partition } = CONSUMER_OFFSET_PARTITION;
    const leader = this.#replicas.consumerOffsetLeader;
    return `SPU ${this.#selfId} does not lead partition '${partitionName(topic, partition)}'${leader === null ? "" : ` (SPU ${leader} does)`}`;
  }

  /** This SPU's table, rebuilt from the log when its replica is new or leads under a new epoch. */
  #local(): Promise<OffsetTable> {
    const { topic, partition } = CONSUMER_OFFSET_PARTITION;
    const replica = this.#replicas.get(topic, partition);
    if (!replica?.isLeader) return Promise.reject(new ConsumerOffsetError("NOT_LEADER", this.#notLeader()));
    const epoch = replica.assignment.leaderEpoch;
    const current = this.#table;
    if (current?.replica === replica && current.epoch === epoch) return current.ready;
    const table = new OffsetTable(replica);
    const name = partitionName(topic, partition);
    // Decided now, not once read, so every request of this leadership gets the same table; it
    // reads the log once the writes of the table before it are in.
    const ready = (current?.settled() ?? Promise.resolve()).then(async () => {
      const unreadable = await table.rebuild();
      log(`consumer offsets: ${table.list().length} read back from '${name}' (leader epoch ${epoch})` + (unreadable > 0 ? `; ${unreadable} record(s) there hold no offset and were skipped` : ""));
      return table;
    });
    const entry = { replica, epoch, ready, settled: () => ready.then((built) => built.settled(), () => {}) };
    this.#table = entry;
    // A failed rebuild is not kept: the next request tries again.
    ready.catch(() => {
      if (this.#table === entry) this.#table = undefined;
    });
    return ready;
  }

  /** Sends `request` to the consumer-offset leader's private port and returns its answer; throws ConsumerOffsetError. */
  #askLeader(request: ConsumerOffsetRequestMessage): Promise<ConsumerOffsetAnswerMessage> {
    const { topic, partition } = CONSUMER_OFFSET_PARTITION;
    const name = partitionName(topic, partition);
    const leader = this.#replicas.consumerOffsetLeader;
    if (leader === null) return Promise.reject(new ConsumerOffsetError("NO_PARTITION", `partition '${name}' has no leader yet`));
    const address = this.#replicas.privateEndpointOf(leader);
    if (!address) return Promise.reject(new ConsumerOffsetError("NO_SPU", `SPU ${leader}, which leads '${name}', has no endpoint known to SPU ${this.#selfId}`));
    return new Promise((resolve, reject) => {
      const link = connectLink(address);
      const reader = new FrameReader();
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        reject(new ConsumerOffsetError("FAILED", `SPU ${leader}, which leads '${name}', ${why}`));
      };
      const timer = setTimeout(() => {
        fail(`did not answer within ${PEER_TIMEOUT_MS / 1000}s`);
        link.destroy();
      }, PEER_TIMEOUT_MS);
      link.on("connect", () => {
        link.write(encodeFrame<HelloMessage>({ type: "hello", spuId: this.#selfId, token: this.#token }));
        link.write(encodeFrame(request));
      });
      link.on("data", (chunk) => {
        try {
          const frame = reader.push(chunk)[0];
          if (!frame) return;
          if (frame.header.type === "refused") fail(`refused the request: ${String(frame.header.reason)}`);
          else {
            const answer = readConsumerOffsetAnswer(frame.header);
            if (answer.error === "NOT_LEADER") fail("no longer leads it");
            else if (answer.error !== undefined) fail(`could not keep it: ${answer.error}`);
            else if (!settled) {
              settled = true;
              resolve(answer);
            }
          }
        } catch (error) {
          fail(`answered what this SPU cannot read: ${(error as Error).message}`);
        }
        link.destroy();
      });
      link.on("error", () => {});
      link.on("close", () => {
        clearTimeout(timer);
        fail("is unreachable (its SPU may be down; 'cluster resume' restarts it)");
      });
    });
  }
}
