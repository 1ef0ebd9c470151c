/**
 * The SC's topics and partitions: created, grown, deleted and re-led only here, persisted in the
 * metadata store before anyone is told, and joined with what leaders last reported.
 *
 * Group commit: a new leader or in-sync set is first staged, a decision later decisions build
 * on, and `commit()` writes every change staged since the last commit in one metadata write.
 * A change is taken (listed, pushed to SPUs) only once written: when the write fails (a full
 * disk), every change staged or being written is dropped, the partitions stay as written, and
 * the caller hears which changes were dropped and why.
 *
 * A topic's Topic object is its commit point: `create` and `addPartitions` write the Partition
 * objects and the Topic last in one write, `delete` removes the Topic first, and on start
 * Partition objects without their Topic, or beyond its partition count (a create, an add or a
 * delete cut short), are removed. Adds and deletes of one topic run one after another, so a
 * delete never misses partitions an add is writing.
 */
import { assignReplicas } from "./assignment.ts";
import { describeDiskFull, isDiskFull } from "../storage/disk-full.ts";
import { electLeader } from "./election.ts";
import type { IsrChange, ReplicaAssignmentInfo, ReplicaReport } from "../model/replica-info.ts";
import { MetadataStore, type LeaderAndIsr, type PartitionObject, type StoreChange, type TopicObject } from "./store.ts";
import { partitionName, topicNameProblem } from "../model/topic-name.ts";
import { COMPRESSION_ALGORITHMS, type CompressionAlgorithm } from "../wire/fluvio/metadata.ts";
import { storageSettingsProblem } from "../model/topic-config.ts";

/** Most partitions a topic may have. */
const MAX_PARTITIONS = 1000;

/** Why the control plane refuses an admin request, in the engine's terms; each wire adapter maps it to its protocol's answer. */
export type AdminRefusalCode = "TOPIC_INVALID" | "TOPIC_EXISTS" | "INSUFFICIENT_SPUS" | "NO_TOPIC" | "SYSTEM_TOPIC" | "SPU_EXISTS" | "NO_SPU";

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
  /**
   * The leader is connected, has reported the partition under the current epoch, and its high
   * watermark is known (it covers every record acknowledged before it took the lead), so a
   * reader sees all of them. `resume` waits for this.
   */
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
  /**
   * Bytes of the partition's log as its leader last reported them, kept while the leader is
   * away (Fluvio's SC keeps the last size too); 0 until a leader has reported.
   */
  sizeBytes: number;
}

/** A new leader or in-sync set decided for a partition, not yet written. */
export interface StagedChange {
  partition: PartitionObject;
  next: LeaderAndIsr;
  /** An in-sync set asked for by leader `asker`, or a leader elected. */
  cause: { kind: "isr"; asker: number } | { kind: "election" };
}

/** What a commit did: every change written, or (the write failed) every change dropped and why. */
export type CommitOutcome = { committed: StagedChange[] } | { failed: string; dropped: StagedChange[] };

/** What a create asks for; every field but the name may be absent (its default) and is checked here. */
export interface TopicRequest {
  name: unknown;
  partitions?: unknown;
  replication?: unknown;
  compressionType?: unknown;
  retentionSeconds?: unknown;
  segmentSize?: unknown;
  maxPartitionSize?: unknown;
  system?: unknown;
}

/** The answer to an in-sync set ask: staged (told once written), already the recorded set (told at once, nothing written), or refused. */
export type IsrAnswer = { staged: true } | { recorded: true } | { refused: string };

/** The topics and partitions of one SC, backed by its metadata store. */
export class TopicRegistry {
  readonly #store: MetadataStore;
  readonly #topics = new Map<string, TopicObject>();
  readonly #partitions = new Map<string, PartitionObject>();
  /** The partitions of each topic, in partition order. */
  readonly #byTopic = new Map<string, PartitionObject[]>();
  readonly #reports = new Map<string, ReplicaReport & { spuId: number }>();
  /** Each partition's size as its leader last reported it. */
  readonly #sizes = new Map<string, number>();
  /** Decided since the last commit began. */
  #staged = new Map<string, StagedChange>();
  /** Being written by the commit running now. */
  #writing = new Map<string, StagedChange>();
  /** Topic names whose create is being written. */
  readonly #creating = new Set<string>();
  /** The add or delete of each topic running now; the next one of that topic waits for it. */
  readonly #topicWork = new Map<string, Promise<unknown>>();

  constructor(store: MetadataStore) {
    this.#store = store;
    for (const topic of store.list<TopicObject>("Topic")) this.#topics.set(topic.name, topic);
    for (const partition of store.list<PartitionObject>("Partition")) {
      const topic = this.#topics.get(partition.spec.topic);
      if (topic?.spec.id === partition.spec.topicId && partition.spec.partition < topic.spec.partitions) this.#add(partition);
      else store.remove("Partition", partition.name);
    }
    for (const partitions of this.#byTopic.values()) partitions.sort((a, b) => a.spec.partition - b.spec.partition);
  }

  #add(partition: PartitionObject): void {
    this.#partitions.set(partition.name, partition);
    const siblings = this.#byTopic.get(partition.spec.topic);
    if (siblings) siblings.push(partition);
    else this.#byTopic.set(partition.spec.topic, [partition]);
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  listTopics(): TopicObject[] {
    return [...this.#topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Creates `name` on the `online` SPUs, written in one metadata write (its partitions, then the
   * topic); rejects with an AdminRefusal when it cannot, or with the write's error.
   */
  async create(request: TopicRequest, online: number[]): Promise<TopicObject> {
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
    const storage = { retentionSeconds: request.retentionSeconds, segmentSize: request.segmentSize, maxPartitionSize: request.maxPartitionSize } as Record<string, number | undefined>;
    const storageProblem = storageSettingsProblem(storage);
    if (storageProblem !== null) throw new AdminRefusal("TOPIC_INVALID", storageProblem);
    if (request.system !== undefined && typeof request.system !== "boolean") throw new AdminRefusal("TOPIC_INVALID", `system must be true or false, not '${request.system}'`);
    if (this.#topics.has(name) || this.#creating.has(name)) throw new AdminRefusal("TOPIC_EXISTS", `topic '${name}' already exists`);
    if ((replication as number) > online.length) throw insufficientSpus(replication as number, online);
    const topic: TopicObject = {
      name,
      spec: {
        id: crypto.randomUUID(),
        partitions: partitions as number,
        replicationFactor: replication as number,
        compressionType: compressionType as CompressionAlgorithm,
        // Only what was given is stored, so a list shows a setting unset as Fluvio's SC does.
        ...Object.fromEntries(Object.entries(storage).filter(([, value]) => value !== undefined)),
        ...(request.system === true ? { system: true } : {}),
      },
    };
    const objects = this.#placeNew(topic, 0, topic.spec.partitions, online);
    this.#creating.add(name);
    try {
      await this.#store.commit([
        ...objects.map((object): StoreChange => ({ kind: "Partition", name: object.name, object })),
        { kind: "Topic", name, object: topic },
      ]);
    } finally {
      this.#creating.delete(name);
    }
    for (const object of objects) this.#add(object);
    this.#topics.set(name, topic);
    return topic;
  }

  /**
   * Partitions `first` to `first + count - 1` of `topic`, placed on `online` as a create places
   * them, each led by its first replica at epoch 0 with every replica in sync (a new, empty
   * partition's replicas all hold every record it has).
   */
  #placeNew(topic: TopicObject, first: number, count: number, online: number[]): PartitionObject[] {
    const placed = assignReplicas({
      spus: online,
      partitions: count,
      replication: topic.spec.replicationFactor,
      // System topics are left out of the count, so the SC's own topic does not shift where users' partitions go.
      start: this.#placedUserPartitions(),
    });
    return placed.map(({ partition: index, replicas }) => {
      const partition = first + index;
      return {
        name: partitionName(topic.name, partition),
        spec: { topic: topic.name, topicId: topic.spec.id, partition, replicas },
        leaderAndIsr: { leader: replicas[0]!, leaderEpoch: 0, isr: [...replicas] },
      };
    });
  }

  /**
   * Runs `work` once the add or delete of topic `name` running now (if any) is done, so each
   * sees the topic as the one before it left it; with none running, `work` starts at once.
   */
  #afterTopicWork<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.#topicWork.get(name);
    const run = before ? before.then(work) : work();
    const settled = run.catch(() => {});
    this.#topicWork.set(name, settled);
    void settled.then(() => {
      if (this.#topicWork.get(name) === settled) this.#topicWork.delete(name);
    });
    return run;
  }

  /**
   * Adds `count` partitions to topic `name`, numbered after its last, placed on the `online`
   * SPUs with its replication factor, and written in one metadata write (the partitions, then
   * the topic with its new count); its other partitions are untouched. Rejects with NO_TOPIC,
   * SYSTEM_TOPIC, TOPIC_INVALID (a count that is not a whole number, more partitions than a
   * topic may have), INSUFFICIENT_SPUS, or the write's error. Resolves with the partitions
   * added (none for a count of 0, which writes nothing).
   */
  addPartitions(name: string, count: number, online: number[]): Promise<PartitionObject[]> {
    return this.#afterTopicWork(name, async () => {
      const topic = this.#topics.get(name);
      if (!topic) throw new AdminRefusal("NO_TOPIC", `topic '${name}' does not exist`);
      if (topic.spec.system) throw new AdminRefusal("SYSTEM_TOPIC", `'${name}' is a system topic; its partitions are Fluvio's to set`);
      if (!Number.isInteger(count) || count < 0) throw new AdminRefusal("TOPIC_INVALID", `the partitions to add must be a whole number, not '${count}'`);
      if (count === 0) return [];
      const existing = topic.spec.partitions;
      if (existing + count > MAX_PARTITIONS) {
        throw new AdminRefusal("TOPIC_INVALID", `topic '${name}' has ${existing} partition(s); adding ${count} would pass the most a topic may have, ${MAX_PARTITIONS}`);
      }
      const replication = topic.spec.replicationFactor;
      if (replication > online.length) throw insufficientSpus(replication, online);
      const objects = this.#placeNew(topic, existing, count, online);
      const grown: TopicObject = { ...topic, spec: { ...topic.spec, partitions: existing + count } };
      await this.#store.commit([
        ...objects.map((object): StoreChange => ({ kind: "Partition", name: object.name, object })),
        { kind: "Topic", name, object: grown },
      ]);
      for (const object of objects) this.#add(object);
      this.#topics.set(name, grown);
      return objects;
    });
  }

  #placedUserPartitions(): number {
    let count = 0;
    for (const [name, partitions] of this.#byTopic) if (!this.#topics.get(name)?.spec.system) count += partitions.length;
    return count;
  }

  /**
   * Deletes topic `name` and its partitions: gone at once for every decision and list, then
   * removed from the store (the topic's file first) in one commit, after any commit before it.
   * Rejects with NO_TOPIC when there is none. Returns the partitions deleted.
   */
  delete(name: string): Promise<PartitionObject[]> {
    return this.#afterTopicWork(name, () => this.#delete(name));
  }

  async #delete(name: string): Promise<PartitionObject[]> {
    const topic = this.#topics.get(name);
    if (!topic) throw new AdminRefusal("NO_TOPIC", `topic '${name}' does not exist`);
    const partitions = this.#byTopic.get(name) ?? [];
    this.#topics.delete(name);
    this.#byTopic.delete(name);
    for (const partition of partitions) {
      this.#partitions.delete(partition.name);
      this.#reports.delete(partition.name);
      this.#sizes.delete(partition.name);
      this.#staged.delete(partition.name);
    }
    await this.#store.commit([
      { kind: "Topic", name },
      ...partitions.map((partition): StoreChange => ({ kind: "Partition", name: partition.name })),
    ]);
    return partitions;
  }

  /** The partitions of `topic`, in partition order (none when there is no such topic). */
  partitionsOf(topic: string): readonly PartitionObject[] {
    return this.#byTopic.get(topic) ?? [];
  }

  /** Every partition, as written, in no particular order. */
  partitions(): IterableIterator<PartitionObject> {
    return this.#partitions.values();
  }

  getTopic(name: string): TopicObject | undefined {
    return this.#topics.get(name);
  }

  getPartition(name: string): PartitionObject | undefined {
    return this.#partitions.get(name);
  }

  /** Every partition (of `topic` when given) with its leader's last report; `online` says which SPUs are connected. */
  listPartitions(isOnline: (spuId: number) => boolean, topic?: string): PartitionView[] {
    const partitions = topic === undefined ? [...this.#partitions.values()] : [...this.partitionsOf(topic)];
    return partitions
      .sort((a, b) => a.spec.topic.localeCompare(b.spec.topic) || a.spec.partition - b.spec.partition)
      .map((partition) => this.#view(partition, isOnline));
  }

  /** Partition `name` as written, with its leader's last report; undefined when there is none. */
  viewOf(name: string, isOnline: (spuId: number) => boolean): PartitionView | undefined {
    const partition = this.#partitions.get(name);
    return partition && this.#view(partition, isOnline);
  }

  #view(partition: PartitionObject, isOnline: (spuId: number) => boolean): PartitionView {
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
      online: live && report.highWatermarkKnown,
      leaderless: election.kind === "leaderless",
      electionPending: election.kind === "elect",
      endOffset: live ? report.endOffset : null,
      highWatermark: live ? report.highWatermark : null,
      sizeBytes: this.#sizes.get(partition.name) ?? 0,
    };
  }

  /** The leader and in-sync set decisions build on: the latest decided, written or not. */
  #decided(partition: PartitionObject): LeaderAndIsr {
    return this.#staged.get(partition.name)?.next ?? this.#writing.get(partition.name)?.next ?? partition.leaderAndIsr;
  }

  /** True when partition `name` has a change decided and not yet written. */
  isPending(name: string): boolean {
    return this.#staged.has(name) || this.#writing.has(name);
  }

  /** True when changes wait for `commit()`. */
  get hasStaged(): boolean {
    return this.#staged.size > 0;
  }

  /**
   * Stages a new leader for every partition whose decided leader is offline and which has an
   * online in-sync replica (election.ts). Returns the changes staged and the partitions left
   * leaderless, for the SC to commit and log.
   */
  stageElections(isOnline: (spuId: number) => boolean): { elected: StagedChange[]; leaderless: { name: string; reason: string }[] } {
    const elected: StagedChange[] = [];
    const leaderless: { name: string; reason: string }[] = [];
    for (const partition of this.#partitions.values()) {
      const result = electLeader({ replicas: partition.spec.replicas, current: this.#decided(partition), isOnline });
      if (result.kind === "leaderless") leaderless.push({ name: partition.name, reason: result.reason });
      if (result.kind !== "elect") continue;
      const change: StagedChange = { partition, next: result.next, cause: { kind: "election" } };
      this.#staged.set(partition.name, change);
      elected.push(change);
    }
    return { elected, leaderless };
  }

  /**
   * Writes every change staged since the last commit in one metadata write, then takes them.
   * One commit runs at a time (the caller waits for one before the next). When the write
   * fails, it drops what it wrote and everything staged meanwhile (later decisions built on
   * the dropped ones), and says which.
   */
  async commit(): Promise<CommitOutcome> {
    const batch = this.#staged;
    this.#staged = new Map();
    this.#writing = batch;
    const live = [...batch.values()].filter((change) => this.#partitions.get(change.partition.name) === change.partition);
    try {
      await this.#store.commit(
        live.map(({ partition, next }): StoreChange => ({ kind: "Partition", name: partition.name, object: { ...partition, leaderAndIsr: next } })),
      );
    } catch (error) {
      const reason = isDiskFull(error) ? describeDiskFull(this.#store.dir) : (error as Error).message;
      const dropped = [...batch.values(), ...this.#staged.values()];
      this.#writing = new Map();
      this.#staged = new Map();
      return { failed: reason, dropped };
    }
    this.#writing = new Map();
    // A partition deleted while it was written is gone: its file was removed after this write.
    const committed = live.filter((change) => this.#partitions.get(change.partition.name) === change.partition);
    for (const change of committed) {
      change.partition.leaderAndIsr = change.next;
      if (change.cause.kind === "election") this.#reports.delete(change.partition.name);
    }
    return { committed };
  }

  /** Partition `partition` as written, as SPUs are told it, with its topic's compression type and storage settings. */
  assignmentOf(partition: PartitionObject): ReplicaAssignmentInfo {
    const topic = this.#topics.get(partition.spec.topic)?.spec;
    return {
      topic: partition.spec.topic,
      topicId: partition.spec.topicId,
      partition: partition.spec.partition,
      replicas: partition.spec.replicas,
      compressionType: topic?.compressionType ?? "Any",
      ...(topic?.retentionSeconds !== undefined ? { retentionSeconds: topic.retentionSeconds } : {}),
      ...(topic?.segmentSize !== undefined ? { segmentSize: topic.segmentSize } : {}),
      ...(topic?.maxPartitionSize !== undefined ? { maxPartitionSize: topic.maxPartitionSize } : {}),
      ...partition.leaderAndIsr,
    };
  }

  /** The replicas SPU `spuId` holds, as written, for a `replicas` message. */
  assignmentsFor(spuId: number): ReplicaAssignmentInfo[] {
    return [...this.#partitions.values()].filter((partition) => partition.spec.replicas.includes(spuId)).map((partition) => this.assignmentOf(partition));
  }

  /**
   * Records a leader's report of its replicas' offsets (reports of followers are kept for no
   * one); returns the names of the partitions whose view it changed.
   */
  recordReport(spuId: number, replicas: ReplicaReport[]): string[] {
    const changed: string[] = [];
    for (const replica of replicas) {
      if (!replica.isLeader) continue;
      const name = partitionName(replica.topic, replica.partition);
      const before = this.#reports.get(name);
      this.#reports.set(name, { ...replica, spuId });
      // Only the partition's leader tells its size; a report carrying none (an SPU before sizes were reported) leaves it as known.
      const sizeBefore = this.#sizes.get(name);
      const leads = this.#partitions.get(name)?.leaderAndIsr.leader === spuId;
      if (leads && Number.isSafeInteger(replica.sizeBytes) && replica.sizeBytes >= 0) this.#sizes.set(name, replica.sizeBytes);
      const same =
        sizeBefore === this.#sizes.get(name) &&
        before?.spuId === spuId &&
        before.leaderEpoch === replica.leaderEpoch &&
        before.endOffset === replica.endOffset &&
        before.highWatermark === replica.highWatermark &&
        before.highWatermarkKnown === replica.highWatermarkKnown;
      if (!same) changed.push(name);
    }
    return changed;
  }

  /** Forgets the reports of an SPU that went offline. */
  forgetReports(spuId: number): void {
    for (const [key, report] of this.#reports) if (report.spuId === spuId) this.#reports.delete(key);
  }

  /**
   * Stages the in-sync set a leader asks for, if it comes from the decided leader under the
   * decided epoch and is a set of the partition's replicas holding the leader. A set equal to
   * the decided one is answered as recorded: nothing is written for it.
   */
  stageIsr(spuId: number, message: IsrChange): IsrAnswer {
    const partition = this.#partitions.get(partitionName(message.topic, message.partition));
    if (!partition) return { refused: `no partition '${partitionName(message.topic, message.partition)}'` };
    const current = this.#decided(partition);
    const { leader, leaderEpoch } = current;
    if (spuId !== leader || message.leaderEpoch !== leaderEpoch) {
      return { refused: `SPU ${spuId} at epoch ${message.leaderEpoch} is not the leader (SPU ${leader}, epoch ${leaderEpoch})` };
    }
    const isr = Array.isArray(message.isr) ? message.isr : [];
    if (!isr.includes(leader) || !isr.every((id) => partition.spec.replicas.includes(id))) {
      return { refused: `in-sync set [${isr.join(", ")}] must hold the leader and only replicas` };
    }
    const next = partition.spec.replicas.filter((id) => isr.includes(id));
    if (next.length === current.isr.length && next.every((id) => current.isr.includes(id))) return { recorded: true };
    this.#staged.set(partition.name, { partition, next: { ...current, isr: next }, cause: { kind: "isr", asker: spuId } });
    return { staged: true };
  }
}

function insufficientSpus(replication: number, online: number[]): AdminRefusal {
  return new AdminRefusal(
    "INSUFFICIENT_SPUS",
    `replication ${replication} needs ${replication} online SPUs; ${online.length} ${online.length === 1 ? "is" : "are"} online` + (online.length > 0 ? ` (${online.join(", ")})` : ""),
  );
}
