/**
 * The SC's decisions, apart from any socket: which SPUs are registered and online, the topics
 * and their partitions (topic-registry.ts), and leader elections. The SPU sessions
 * (spu-sessions.ts) tell it when an SPU comes and goes and what it reports; the admin adapters
 * (servers/sc-public-server.ts) call its admin methods; it tells SPUs their assignments through
 * the `push` and `pushChanges` hooks.
 *
 * An SPU is online exactly while it holds an identified session; every SPU starts offline
 * whatever was stored before. Leader failover: when the SPU leading a partition goes offline,
 * the controller elects another in-sync replica (election.ts), persists the new leader and
 * epoch, and then tells the replicas. Until every registered SPU has come online, or
 * the start grace has passed, it elects nothing, so SPUs reconnecting to a restarted SC keep
 * their leaderships; after that, an SPU that never came back is replaced like one that left.
 *
 * Work per tick, not per message: an SPU coming online is sent its whole assignment once;
 * after that each SPU hears only what changed of its replicas, gathered over one turn of the
 * event loop into one message. Leaders and in-sync sets decided in a turn are written in one
 * metadata write (group commit; one write runs at a time, and what is decided meanwhile goes
 * into the next), and their replicas and watchers hear of them once it is written. Every ask
 * for an in-sync set is answered once: by the new assignment once written, at once with the
 * assignment as it stands when it asks for the set already recorded or is refused.
 */
import { log } from "../daemon/log.ts";
import { CONSUMER_OFFSET_PARTITION, type AssignmentChanges, type IsrChange, type RemovedReplica, type ReplicaReport, type SpuAssignment } from "../model/replica-info.ts";
import { partitionName } from "../model/topic-name.ts";
import { makeSpuObject, MetadataStore, spuObjectName, type PartitionObject, type SpuObject, type TopicObject } from "./store.ts";
import { AdminRefusal, TopicRegistry, type CommitOutcome, type PartitionView, type StagedChange, type TopicRequest } from "./topic-registry.ts";

/** A registered SPU with whether it holds a session now, as Fluvio's admin API lists it. */
export type SpuView = SpuObject & { status: { resolution: "Online" | "Offline" } };

export interface ControllerHooks {
  /** Sends SPU `id` (online) everything it holds. */
  push(id: number, assignment: SpuAssignment): void;
  /** Sends SPU `id` (online) what changed of its replicas. */
  pushChanges(id: number, changes: AssignmentChanges): void;
  /** Ends the session of SPU `id` (it was unregistered). */
  disconnect(id: number): void;
}

/**
 * Fluvio's system topic for consumer offsets, as its SC makes it on start
 * (fluvio-sc controllers/topics/controller.rs): one partition, one replica, 7 days' retention,
 * 512 MB segments, at most 2 GB.
 */
export const CONSUMER_OFFSET_TOPIC: TopicRequest = {
  name: CONSUMER_OFFSET_PARTITION.topic,
  partitions: 1,
  replication: 1,
  retentionSeconds: 7 * 24 * 3600,
  segmentSize: 512_000_000,
  maxPartitionSize: 2_048_000_000,
  system: true,
};

/** What a controller does beyond what it is asked. */
export interface ControllerOptions {
  /** Creates Fluvio's system topics once an SPU is online to hold them (the SC does; unit tests leave them out). */
  systemTopics?: boolean;
}

const CONSUMER_OFFSET_PARTITION_NAME = partitionName(CONSUMER_OFFSET_PARTITION.topic, CONSUMER_OFFSET_PARTITION.partition);

/** An election the SC could not record (a full disk) is tried again this often. */
const ELECTION_RETRY_MS = 1_000;

/** What a change touched, for listeners that mirror the store (Fluvio's Watch). */
export type ChangeKind = "SPU" | "Topic" | "Partition";

/** Objects changed in one turn, by kind and name (a name whose object is gone was deleted). */
export type Changes = Record<ChangeKind, ReadonlySet<string>>;

/** What one SPU is to be told at the end of the turn. */
interface Outgoing {
  partitions: Set<string>;
  removed: Map<string, RemovedReplica>;
  spus: boolean;
  consumerOffsetLeader: boolean;
}

export class Controller {
  readonly #store: MetadataStore;
  readonly #hooks: ControllerHooks;
  readonly #spus: Map<number, SpuObject>;
  readonly #online = new Set<number>();
  readonly #topics: TopicRegistry;
  #electionsOpen = false;
  /** Partitions last logged as leaderless, so each is logged once per outage. */
  readonly #loggedLeaderless = new Set<string>();
  readonly #listeners = new Set<(changes: Changes) => void>();
  #electionRetry: ReturnType<typeof setTimeout> | undefined;
  readonly #outgoing = new Map<number, Outgoing>();
  #changes = emptyChanges();
  #turnScheduled = false;
  #committing = false;
  /** How many metadata writes of leaders and in-sync sets this SC made (for tests and benches). */
  commits = 0;
  readonly #systemTopics: boolean;
  #creatingSystemTopics = false;

  constructor(store: MetadataStore, hooks: ControllerHooks, options: ControllerOptions = {}) {
    this.#store = store;
    this.#hooks = hooks;
    this.#systemTopics = options.systemTopics ?? false;
    this.#spus = new Map(store.listSpus().map((spu) => [spu.spec.spuId, spu]));
    this.#topics = new TopicRegistry(store);
  }

  get spuCount(): number {
    return this.#spus.size;
  }

  get topicCount(): number {
    return this.#topics.topicCount;
  }

  /** Calls `listener` at the end of every turn that changed an SPU, topic or partition (status included); returns its removal. */
  onChange(listener: (changes: Changes) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  isRegistered(id: number): boolean {
    return this.#spus.has(id);
  }

  isOnline(id: number): boolean {
    return this.#online.has(id);
  }

  /** SPU `id` opened a session: it is online, gets its assignment, and may let elections open. */
  spuOnline(id: number): void {
    this.#online.add(id);
    log(`SPU ${id} online`);
    this.#spuChanged(id);
    this.#outgoing.delete(id);
    this.#hooks.push(id, { spus: this.#endpoints(), replicas: this.#topics.assignmentsFor(id), consumerOffsetLeader: this.#consumerOffsetLeader() });
    if (!this.#electionsOpen && [...this.#spus.keys()].every((registered) => this.#online.has(registered))) {
      this.#electionsOpen = true;
      log("every registered SPU is online: leader elections are on");
    }
    this.#electLeaders(`SPU ${id} came online`);
    this.#scheduleTurn();
    this.#ensureSystemTopics();
  }

  /** Creates the system topics missing, now that an SPU is online to hold them; a failure is logged and tried at the next SPU's arrival. */
  #ensureSystemTopics(): void {
    if (!this.#systemTopics || this.#creatingSystemTopics || this.#topics.getTopic(CONSUMER_OFFSET_TOPIC.name as string)) return;
    this.#creatingSystemTopics = true;
    this.createTopic(CONSUMER_OFFSET_TOPIC)
      .catch((error: Error) => log(`could not create the system topic '${CONSUMER_OFFSET_TOPIC.name}': ${error.message}`))
      .finally(() => (this.#creatingSystemTopics = false));
  }

  /** The session of SPU `id` ended: it is offline, and partitions it led get new leaders. */
  spuOffline(id: number): void {
    if (!this.#online.delete(id)) return;
    this.#topics.forgetReports(id);
    this.#outgoing.delete(id);
    log(`SPU ${id} offline`);
    this.#spuChanged(id);
    this.#electLeaders(`SPU ${id} went offline`);
    this.#scheduleTurn();
  }

  /** Opens elections once the start grace has passed, whoever came back. */
  endStartGrace(graceMs: number): void {
    if (this.#electionsOpen) return;
    this.#electionsOpen = true;
    this.#electLeaders(`${graceMs} ms after the SC started`);
    this.#scheduleTurn();
  }

  /** Stops electing: the SC is leaving, so the sessions closing now are not SPUs leaving. */
  closeElections(): void {
    this.#electionsOpen = false;
    clearTimeout(this.#electionRetry);
  }

  recordReport(id: number, replicas: ReplicaReport[]): void {
    const changed = this.#topics.recordReport(id, replicas);
    if (changed.length === 0) return;
    for (const name of changed) this.#changes.Partition.add(name);
    this.#scheduleTurn();
  }

  /** Leader `id` asks for these in-sync sets: each is staged for the next write, or answered at once. */
  changeIsr(id: number, changes: IsrChange[]): void {
    for (const change of changes) {
      const answer = this.#topics.stageIsr(id, change);
      const name = partitionName(change.topic, change.partition);
      if ("refused" in answer) log(`refused an in-sync set change from SPU ${id}: ${answer.refused}`);
      // The leader learns the set that stands (refused, or recorded already) from its assignment.
      if (!("staged" in answer) && this.#topics.getPartition(name)) this.#tell(id, name);
    }
    this.#scheduleTurn();
  }

  listSpus(): SpuView[] {
    return [...this.#spus.values()].sort((a, b) => a.spec.spuId - b.spec.spuId).map((spu) => this.#spuView(spu));
  }

  /** SPU object `name` with its status, or undefined when it is not registered. */
  spuView(name: string): SpuView | undefined {
    const spu = [...this.#spus.values()].find((entry) => entry.name === name);
    return spu && this.#spuView(spu);
  }

  #spuView(spu: SpuObject): SpuView {
    return { ...spu, status: { resolution: this.#online.has(spu.spec.spuId) ? "Online" : "Offline" } };
  }

  /** Registers SPU `id`; refuses with SPU_EXISTS when it is registered already. */
  registerSpu(id: number, host: string, ports: { publicPort: number; privatePort: number }): SpuObject {
    if (this.#spus.has(id)) throw new AdminRefusal("SPU_EXISTS", `SPU ${id} is already registered`);
    const spu = makeSpuObject(id, host, ports);
    this.#store.put("SPU", spu.name, spu);
    this.#spus.set(id, spu);
    log(`registered SPU ${id}`);
    this.#endpointsChanged();
    this.#changes.SPU.add(spu.name);
    this.#scheduleTurn();
    return spu;
  }

  /** Unregisters SPU `id` and ends its session; refuses with NO_SPU when it is not registered. */
  unregisterSpu(id: number): void {
    if (!this.#spus.has(id)) throw new AdminRefusal("NO_SPU", `SPU ${id} is not registered`);
    this.#store.remove("SPU", spuObjectName(id));
    this.#spus.delete(id);
    this.#hooks.disconnect(id);
    log(`unregistered SPU ${id}`);
    this.#endpointsChanged();
    this.#changes.SPU.add(spuObjectName(id));
    this.#scheduleTurn();
  }

  listTopics(): TopicObject[] {
    return this.#topics.listTopics();
  }

  /** Topic `name` with its partitions as written, or undefined when there is none. */
  topicWithPartitions(name: string): { topic: TopicObject; partitions: readonly PartitionObject[] } | undefined {
    const topic = this.#topics.getTopic(name);
    return topic && { topic, partitions: this.#topics.partitionsOf(name) };
  }

  /**
   * Creates a topic on the online SPUs, resolving once it is written; rejects with an
   * AdminRefusal for a bad name or count, a duplicate, or too few SPUs.
   */
  async createTopic(request: TopicRequest): Promise<TopicObject> {
    const topic = await this.#topics.create(request, this.#onlineRegistered());
    log(`created topic '${topic.name}': ${topic.spec.partitions} partition(s), replication ${topic.spec.replicationFactor}`);
    this.#changes.Topic.add(topic.name);
    for (const partition of this.#topics.partitionsOf(topic.name)) this.#partitionChanged(partition);
    this.#scheduleTurn();
    return topic;
  }

  /**
   * Adds `count` partitions to topic `name` on the online SPUs, resolving once they are written
   * with the partitions added; their replicas hear of them at the end of the turn, as a new
   * topic's do. Rejects with an AdminRefusal (no such topic, a system topic, a bad count, too
   * few SPUs) or the write's error.
   */
  async addPartitions(name: string, count: number): Promise<PartitionObject[]> {
    const added = await this.#topics.addPartitions(name, count, this.#onlineRegistered());
    if (added.length === 0) return added;
    const topic = this.#topics.getTopic(name);
    log(`added ${added.length} partition(s) to topic '${name}': now ${topic?.spec.partitions} partition(s), replication ${topic?.spec.replicationFactor}`);
    this.#changes.Topic.add(name);
    for (const partition of added) this.#partitionChanged(partition);
    this.#scheduleTurn();
    return added;
  }

  /** Deletes a topic and its partitions, resolving once they are removed; rejects with NO_TOPIC when there is none. */
  async deleteTopic(name: string): Promise<void> {
    const partitions = await this.#topics.delete(name);
    log(`deleted topic '${name}'`);
    this.#changes.Topic.add(name);
    for (const partition of partitions) {
      this.#changes.Partition.add(partition.name);
      const removed: RemovedReplica = { topic: partition.spec.topic, topicId: partition.spec.topicId, partition: partition.spec.partition };
      for (const id of partition.spec.replicas) {
        const outgoing = this.#outgoingOf(id);
        outgoing?.partitions.delete(partition.name);
        outgoing?.removed.set(partition.name, removed);
      }
      // As Fluvio's SPUs hear of every deletion: the SPU keeping the consumer offsets drops the partition's.
      const offsetsLeader = this.#consumerOffsetLeader();
      if (offsetsLeader !== null && !partition.spec.replicas.includes(offsetsLeader)) this.#outgoingOf(offsetsLeader)?.removed.set(partition.name, removed);
    }
    this.#scheduleTurn();
  }

  listPartitions(topic?: string): PartitionView[] {
    return this.#topics.listPartitions((id) => this.#online.has(id), topic);
  }

  /** Partition `name` as listed, or undefined when there is none. */
  partitionView(name: string): PartitionView | undefined {
    return this.#topics.viewOf(name, (id) => this.#online.has(id));
  }

  #onlineRegistered(): number[] {
    return [...this.#online].filter((id) => this.#spus.has(id)).sort((a, b) => a - b);
  }

  #endpoints(): SpuAssignment["spus"] {
    return [...this.#spus.values()].map((spu) => ({ id: spu.spec.spuId, host: spu.spec.privateEndpoint.host, privatePort: spu.spec.privateEndpoint.port }));
  }

  /** What SPU `id` is to be told this turn; undefined while it is offline (it gets everything when it comes back). */
  #outgoingOf(id: number): Outgoing | undefined {
    if (!this.#online.has(id)) return undefined;
    let outgoing = this.#outgoing.get(id);
    if (!outgoing) this.#outgoing.set(id, (outgoing = { partitions: new Set(), removed: new Map(), spus: false, consumerOffsetLeader: false }));
    return outgoing;
  }

  /** SPU `id` is to hear partition `name` as it stands at the end of the turn. */
  #tell(id: number, name: string): void {
    this.#outgoingOf(id)?.partitions.add(name);
  }

  #partitionChanged(partition: PartitionObject): void {
    this.#changes.Partition.add(partition.name);
    for (const id of partition.spec.replicas) this.#tell(id, partition.name);
    if (partition.name !== CONSUMER_OFFSET_PARTITION_NAME) return;
    // Every SPU forwards its consumers' commits to this partition's leader.
    for (const id of this.#online) {
      const outgoing = this.#outgoingOf(id);
      if (outgoing) outgoing.consumerOffsetLeader = true;
    }
  }

  /** The SPU leading the consumer-offset partition as written, or null before it exists. */
  #consumerOffsetLeader(): number | null {
    return this.#topics.getPartition(CONSUMER_OFFSET_PARTITION_NAME)?.leaderAndIsr.leader ?? null;
  }

  #endpointsChanged(): void {
    for (const id of this.#online) {
      const outgoing = this.#outgoingOf(id);
      if (outgoing) outgoing.spus = true;
    }
  }

  /** An SPU came or went: it and every partition it holds look different to watchers. */
  #spuChanged(id: number): void {
    this.#changes.SPU.add(spuObjectName(id));
    for (const partition of this.#topics.partitions()) if (partition.spec.replicas.includes(id)) this.#changes.Partition.add(partition.name);
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => this.#endTurn());
  }

  /**
   * The end of a turn: starts the metadata write of what was decided (unless one is running),
   * tells each SPU what changed of its replicas in one message, and each listener what changed.
   */
  #endTurn(): void {
    this.#turnScheduled = false;
    if (!this.#committing && this.#topics.hasStaged) void this.#commit();
    for (const [id, outgoing] of this.#outgoing) {
      if (!this.#online.has(id)) continue;
      // A partition with a change being written is told once it is written.
      const replicas = [...outgoing.partitions]
        .filter((name) => !this.#topics.isPending(name))
        .flatMap((name) => {
          const partition = this.#topics.getPartition(name);
          return partition ? [this.#topics.assignmentOf(partition)] : [];
        });
      const removed = [...outgoing.removed.values()];
      if (replicas.length === 0 && removed.length === 0 && !outgoing.spus && !outgoing.consumerOffsetLeader) continue;
      this.#hooks.pushChanges(id, {
        ...(outgoing.spus ? { spus: this.#endpoints() } : {}),
        ...(outgoing.consumerOffsetLeader ? { consumerOffsetLeader: this.#consumerOffsetLeader() } : {}),
        replicas,
        removed,
      });
    }
    this.#outgoing.clear();
    const changes = this.#changes;
    if (changes.SPU.size + changes.Topic.size + changes.Partition.size === 0) return;
    this.#changes = emptyChanges();
    for (const listener of [...this.#listeners]) listener(changes);
  }

  async #commit(): Promise<void> {
    this.#committing = true;
    let outcome: CommitOutcome;
    try {
      outcome = await this.#topics.commit();
    } finally {
      this.#committing = false;
    }
    if ("committed" in outcome) this.#committed(outcome.committed);
    else this.#dropped(outcome.failed, outcome.dropped);
    this.#scheduleTurn();
  }

  #committed(changes: StagedChange[]): void {
    this.commits++;
    let asked = 0;
    for (const { partition, next, cause } of changes) {
      if (cause.kind === "isr") {
        asked++;
        log(`in-sync set of '${partition.name}' is now [${next.isr.join(", ")}] (asked by leader SPU ${cause.asker})`);
      } else {
        log(`elected SPU ${next.leader} leader of '${partition.name}' at epoch ${next.leaderEpoch}, in-sync [${next.isr.join(", ")}]`);
        this.#loggedLeaderless.delete(partition.name);
      }
      this.#partitionChanged(partition);
    }
    log(`metadata: committed ${changes.length} partition change(s) in one write (${asked} in-sync set(s), ${changes.length - asked} election(s))`);
  }

  /** The write failed: nothing of it is taken; askers hear the set that stands, and elections are tried again. */
  #dropped(reason: string, changes: StagedChange[]): void {
    log(`the SC cannot record ${changes.length} partition change(s), so none is taken: ${reason}`);
    let elections = 0;
    for (const { partition, cause } of changes) {
      if (cause.kind === "isr") this.#tell(cause.asker, partition.name);
      else elections++;
    }
    if (elections > 0 && !this.#electionRetry) {
      this.#electionRetry = setTimeout(() => {
        this.#electionRetry = undefined;
        this.#electLeaders("retrying an election the SC could not record");
        this.#scheduleTurn();
      }, ELECTION_RETRY_MS);
    }
  }

  /** Stages a leader for every partition whose leader is offline (once elections are open); the end of the turn writes them. */
  #electLeaders(trigger: string): void {
    if (!this.#electionsOpen) return;
    const { elected, leaderless } = this.#topics.stageElections((id) => this.#online.has(id));
    if (elected.length > 0) log(`electing new leaders of ${elected.length} partition(s) (${trigger})`);
    const stillLeaderless = new Set(leaderless.map((entry) => entry.name));
    for (const name of this.#loggedLeaderless) if (!stillLeaderless.has(name)) this.#loggedLeaderless.delete(name);
    for (const { name, reason } of leaderless) {
      if (this.#loggedLeaderless.has(name)) continue;
      this.#loggedLeaderless.add(name);
      log(`partition '${name}' has no leader: ${reason}; it waits for an in-sync replica to return (${trigger})`);
    }
  }
}

function emptyChanges(): { SPU: Set<string>; Topic: Set<string>; Partition: Set<string> } {
  return { SPU: new Set(), Topic: new Set(), Partition: new Set() };
}
