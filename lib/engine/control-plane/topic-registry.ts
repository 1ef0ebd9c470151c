/**
 * The SC's topics and partitions: created, deleted and re-led only here, persisted in the
 * metadata store before anyone is told, and joined with what leaders last reported.
 *
 * A new leader or in-sync set is taken only once written: when the write fails (a full disk),
 * the partition stays as it was, and the caller hears why.
 *
 * A topic's Topic object is its commit point: `create` writes the Partition objects first and
 * the Topic last, `delete` removes the Topic first, and on start Partition objects without
 * their Topic (a create or delete cut short) are removed.
 */
import { assignReplicas } from "./assignment.ts";
import { describeDiskFull, isDiskFull } from "../storage/disk-full.ts";
import { electLeader } from "./election.ts";
import type { IsrChange, ReplicaAssignmentInfo, ReplicaReport } from "../model/replica-info.ts";
import { MetadataStore, type PartitionObject, type TopicObject } from "./store.ts";
import { partitionName, topicNameProblem } from "../model/topic-name.ts";
import { COMPRESSION_ALGORITHMS, type CompressionAlgorithm } from "../wire/fluvio/metadata.ts";

/** Most partitions a topic may have. */
const MAX_PARTITIONS = 1000;

/** Why the control plane refuses an admin request, in the engine's terms; each wire adapter maps it to its protocol's answer. */
export type AdminRefusalCode = "TOPIC_INVALID" | "TOPIC_EXISTS" | "INSUFFICIENT_SPUS" | "NO_TOPIC" | "SPU_EXISTS" | "NO_SPU";

/** A refused admin request; `code` is also one of the CLI's error codes. */
export class AdminRefusal extends Error {
  readonly code: AdminRefusalCode;

  constructor(code: AdminRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A partition as the controller describes it (its leader, replicas, in-sync set, and what its leader last reported). */
export interface PartitionView {
  topic: string;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  leaderEpoch: number;
  /** The leader is connected and has reported the partition under the current epoch. */
  online: boolean;
  /**
   * The leader's SPU is offline and no other in-sync replica is online to take over, so no
   * replica serves the partition until one of them returns (there is no unclean election).
   * The election rule's own answer (election.ts), so it never disagrees with what the SC does.
   */
  leaderless: boolean;
  /**
   * The leader's SPU is offline and an online in-sync replica can take over: the SC elects it
   * once elections are open (after its start-up grace), so this lasts only until then.
   */
  electionPending: boolean;
  /** The leader's end offset and high watermark as last reported; null while it is offline. */
  endOffset: number | null;
  highWatermark: number | null;
}

/** The topics and partitions of one SC, backed by its metadata store. */
export class TopicRegistry {
  readonly #store: MetadataStore;
  readonly #topics = new Map<string, TopicObject>();
  readonly #partitions = new Map<string, PartitionObject>();
  readonly #reports = new Map<string, ReplicaReport & { spuId: number }>();

  constructor(store: MetadataStore) {
    this.#store = store;
    for (const topic of store.list<TopicObject>("Topic")) this.#topics.set(topic.name, topic);
    for (const partition of store.list<PartitionObject>("Partition")) {
      const topic = this.#topics.get(partition.spec.topic);
      if (topic?.spec.id === partition.spec.topicId) this.#partitions.set(partition.name, partition);
      else store.remove("Partition", partition.name);
    }
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  listTopics(): TopicObject[] {
    return [...this.#topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates `name` on the `online` SPUs; throws an AdminRefusal when it cannot. */
  create(request: { name: unknown; partitions?: unknown; replication?: unknown; compressionType?: unknown }, online: number[]): TopicObject {
    const name = typeof request.name === "string" ? request.name : "";
    const problem = topicNameProblem(name);
    if (problem !== null) throw new AdminRefusal("TOPIC_INVALID", problem);
    // Only an absent field has a default: null (what JSON makes of NaN) is a value, and refused.
    const partitions = request.partitions === undefined ? 1 : request.partitions;
    const replication = request.replication === undefined ? 1 : request.replication;
    if (!Number.isInteger(partitions) || (partitions as number) < 1 || (partitions as number) > MAX_PARTITIONS) {
      throw new AdminRefusal("TOPIC_INVALID", `partitions must be an integer from 1 to ${MAX_PARTITIONS}, not '${partitions}'`);
    }
    if (!Number.isInteger(replication) || (replication as number) < 1) {
      throw new AdminRefusal("TOPIC_INVALID", `replication must be an integer of at least 1, not '${replication}'`);
    }
    const compressionType = request.compressionType ?? "Any";
    if (!COMPRESSION_ALGORITHMS.includes(compressionType as CompressionAlgorithm)) {
      throw new AdminRefusal("TOPIC_INVALID", `compression type must be one of ${COMPRESSION_ALGORITHMS.join(", ")}, not '${compressionType}'`);
    }
    if (this.#topics.has(name)) throw new AdminRefusal("TOPIC_EXISTS", `topic '${name}' already exists`);
    if ((replication as number) > online.length) {
      throw new AdminRefusal(
        "INSUFFICIENT_SPUS",
        `replication ${replication} needs ${replication} online SPUs; ${online.length} ${online.length === 1 ? "is" : "are"} online` +
          (online.length > 0 ? ` (${online.join(", ")})` : ""),
      );
    }
    const topic: TopicObject = {
      name,
      spec: { id: crypto.randomUUID(), partitions: partitions as number, replicationFactor: replication as number, compressionType: compressionType as CompressionAlgorithm },
    };
    const placed = assignReplicas({
      spus: online,
      partitions: topic.spec.partitions,
      replication: topic.spec.replicationFactor,
      start: this.#partitions.size,
    });
    for (const { partition, replicas } of placed) {
      const object: PartitionObject = {
        name: partitionName(name, partition),
        spec: { topic: name, topicId: topic.spec.id, partition, replicas },
        // Every replica of a new, empty partition holds every record it has.
        leaderAndIsr: { leader: replicas[0]!, leaderEpoch: 0, isr: [...replicas] },
      };
      this.#store.put("Partition", object.name, object);
      this.#partitions.set(object.name, object);
    }
    this.#store.put("Topic", name, topic);
    this.#topics.set(name, topic);
    return topic;
  }

  /** Deletes topic `name` and its partitions; throws NO_TOPIC when there is none. */
  delete(name: string): void {
    const topic = this.#topics.get(name);
    if (!topic) throw new AdminRefusal("NO_TOPIC", `topic '${name}' does not exist`);
    this.#store.remove("Topic", name);
    this.#topics.delete(name);
    for (let partition = 0; partition < topic.spec.partitions; partition++) {
      const key = partitionName(name, partition);
      this.#store.remove("Partition", key);
      this.#partitions.delete(key);
      this.#reports.delete(key);
    }
  }

  /** Every partition (of `topic` when given) with its leader's last report; `online` says which SPUs are connected. */
  listPartitions(isOnline: (spuId: number) => boolean, topic?: string): PartitionView[] {
    return [...this.#partitions.values()]
      .filter((partition) => topic === undefined || partition.spec.topic === topic)
      .sort((a, b) => a.spec.topic.localeCompare(b.spec.topic) || a.spec.partition - b.spec.partition)
      .map((partition) => {
        const { leader, leaderEpoch, isr } = partition.leaderAndIsr;
        const report = this.#reports.get(partition.name);
        const live = report !== undefined && report.spuId === leader && report.leaderEpoch === leaderEpoch && isOnline(leader);
        const election = electLeader({ replicas: partition.spec.replicas, current: partition.leaderAndIsr, isOnline });
        return {
          topic: partition.spec.topic,
          partition: partition.spec.partition,
          leader,
          replicas: partition.spec.replicas,
          isr,
          leaderEpoch,
          online: live,
          leaderless: election.kind === "leaderless",
          electionPending: election.kind === "elect",
          endOffset: live ? report.endOffset : null,
          highWatermark: live ? report.highWatermark : null,
        };
      });
  }

  /**
   * Elects a new leader for every partition whose leader is offline and which has an online
   * in-sync replica (election.ts), persisting each new LeaderAndIsr before anyone is told.
   * Returns the partitions changed and those left leaderless, for the SC to push and log.
   */
  electLeaders(isOnline: (spuId: number) => boolean): {
    elected: PartitionObject[];
    /** `unrecorded`: a leader was elected but could not be written, so the election must be tried again. */
    leaderless: { name: string; reason: string; unrecorded?: boolean }[];
  } {
    const elected: PartitionObject[] = [];
    const leaderless: { name: string; reason: string; unrecorded?: boolean }[] = [];
    for (const partition of this.#partitions.values()) {
      const result = electLeader({ replicas: partition.spec.replicas, current: partition.leaderAndIsr, isOnline });
      if (result.kind === "leaderless") leaderless.push({ name: partition.name, reason: result.reason });
      if (result.kind !== "elect") continue;
      const failure = this.#commitLeaderAndIsr(partition, result.next);
      if (failure) {
        leaderless.push({ name: partition.name, reason: `the SC cannot record SPU ${result.next.leader} as its new leader: ${failure}`, unrecorded: true });
        continue;
      }
      this.#reports.delete(partition.name);
      elected.push(partition);
    }
    return { elected, leaderless };
  }

  /** The replicas SPU `spuId` holds, for a `replicas` message. */
  assignmentsFor(spuId: number): ReplicaAssignmentInfo[] {
    return [...this.#partitions.values()]
      .filter((partition) => partition.spec.replicas.includes(spuId))
      .map((partition) => ({
        topic: partition.spec.topic,
        topicId: partition.spec.topicId,
        partition: partition.spec.partition,
        replicas: partition.spec.replicas,
        compressionType: this.#topics.get(partition.spec.topic)?.spec.compressionType ?? "Any",
        ...partition.leaderAndIsr,
      }));
  }

  /** Records a leader's report of its replicas' offsets (reports of followers are kept for no one). */
  recordReport(spuId: number, replicas: ReplicaReport[]): void {
    for (const replica of replicas) {
      if (replica.isLeader) this.#reports.set(partitionName(replica.topic, replica.partition), { ...replica, spuId });
    }
  }

  /** Forgets the reports of an SPU that went offline. */
  forgetReports(spuId: number): void {
    for (const [key, report] of this.#reports) if (report.spuId === spuId) this.#reports.delete(key);
  }

  /**
   * Persists the in-sync set a leader asks for, if it comes from the current leader under the
   * current epoch and is a set of the partition's replicas holding the leader. Returns the
   * partition's replicas when it changed (they must be told), else why not.
   */
  changeIsr(spuId: number, message: IsrChange): { changed: number[] } | { refused: string } {
    const partition = this.#partitions.get(partitionName(message.topic, message.partition));
    if (!partition) return { refused: `no partition '${partitionName(message.topic, message.partition)}'` };
    const { leader, leaderEpoch } = partition.leaderAndIsr;
    if (spuId !== leader || message.leaderEpoch !== leaderEpoch) {
      return { refused: `SPU ${spuId} at epoch ${message.leaderEpoch} is not the leader (SPU ${leader}, epoch ${leaderEpoch})` };
    }
    const isr = Array.isArray(message.isr) ? message.isr : [];
    if (!isr.includes(leader) || !isr.every((id) => partition.spec.replicas.includes(id))) {
      return { refused: `in-sync set [${isr.join(", ")}] must hold the leader and only replicas` };
    }
    const failure = this.#commitLeaderAndIsr(partition, { ...partition.leaderAndIsr, isr: partition.spec.replicas.filter((id) => isr.includes(id)) });
    if (failure) return { refused: `the SC cannot record it: ${failure}` };
    return { changed: partition.spec.replicas };
  }

  /** Writes `partition` with `next` as its leader and in-sync set, then takes it; on a failed write changes nothing and says why. */
  #commitLeaderAndIsr(partition: PartitionObject, next: PartitionObject["leaderAndIsr"]): string | undefined {
    try {
      this.#store.put("Partition", partition.name, { ...partition, leaderAndIsr: next });
    } catch (error) {
      return isDiskFull(error) ? describeDiskFull(this.#store.dir) : (error as Error).message;
    }
    partition.leaderAndIsr = next;
    return undefined;
  }
}
