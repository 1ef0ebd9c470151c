/**
 * The SC's decisions, apart from any socket: which SPUs are registered and online, the topics
 * and their partitions (topic-registry.ts), and leader elections. The SPU sessions
 * (spu-sessions.ts) tell it when an SPU comes and goes and what it reports; the admin adapters
 * (servers/sc-public-server.ts) call its admin methods; it tells SPUs their assignments through
 * the `push` hook.
 *
 * An SPU is online exactly while it holds an identified session; every SPU starts offline
 * whatever was stored before. Leader failover: when the SPU leading a partition goes offline,
 * the controller elects another in-sync replica (election.ts), persists the new leader and
 * epoch, and pushes the assignments at once. Until every registered SPU has come online, or
 * the start grace has passed, it elects nothing, so SPUs reconnecting to a restarted SC keep
 * their leaderships; after that, an SPU that never came back is replaced like one that left.
 */
import { log } from "../daemon/log.ts";
import type { IsrChange, ReplicaReport, SpuAssignment } from "../model/replica-info.ts";
import { makeSpuObject, MetadataStore, spuObjectName, type SpuObject, type TopicObject } from "./store.ts";
import { AdminRefusal, TopicRegistry, type PartitionView } from "./topic-registry.ts";

/** A registered SPU with whether it holds a session now, as Fluvio's admin API lists it. */
export type SpuView = SpuObject & { status: { resolution: "Online" | "Offline" } };

export interface ControllerHooks {
  /** Sends SPU `id` (online) everything it holds. */
  push(id: number, assignment: SpuAssignment): void;
  /** Ends the session of SPU `id` (it was unregistered). */
  disconnect(id: number): void;
}

/** An election the SC could not record (a full disk) is tried again this often. */
const ELECTION_RETRY_MS = 1_000;

/** What a change touched, for listeners that mirror the store (Fluvio's Watch). */
export type ChangeKind = "SPU" | "Topic" | "Partition";

export class Controller {
  readonly #store: MetadataStore;
  readonly #hooks: ControllerHooks;
  readonly #spus: Map<number, SpuObject>;
  readonly #online = new Set<number>();
  readonly #topics: TopicRegistry;
  #electionsOpen = false;
  /** Partitions last logged as leaderless, so each is logged once per outage. */
  readonly #loggedLeaderless = new Set<string>();
  readonly #listeners = new Set<(kind: ChangeKind) => void>();
  #electionRetry: ReturnType<typeof setTimeout> | undefined;

  constructor(store: MetadataStore, hooks: ControllerHooks) {
    this.#store = store;
    this.#hooks = hooks;
    this.#spus = new Map(store.listSpus().map((spu) => [spu.spec.spuId, spu]));
    this.#topics = new TopicRegistry(store);
  }

  get spuCount(): number {
    return this.#spus.size;
  }

  get topicCount(): number {
    return this.#topics.topicCount;
  }

  /** Calls `listener` after every change of an SPU, topic or partition (status included); returns its removal. */
  onChange(listener: (kind: ChangeKind) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(...kinds: ChangeKind[]): void {
    for (const listener of [...this.#listeners]) for (const kind of kinds) listener(kind);
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
    this.#changed("SPU", "Partition");
    this.#push(id);
    if (!this.#electionsOpen && [...this.#spus.keys()].every((registered) => this.#online.has(registered))) {
      this.#electionsOpen = true;
      log("every registered SPU is online: leader elections are on");
    }
    this.#electLeaders(`SPU ${id} came online`);
  }

  /** The session of SPU `id` ended: it is offline, and partitions it led get new leaders. */
  spuOffline(id: number): void {
    if (!this.#online.delete(id)) return;
    this.#topics.forgetReports(id);
    log(`SPU ${id} offline`);
    this.#changed("SPU", "Partition");
    this.#electLeaders(`SPU ${id} went offline`);
  }

  /** Opens elections once the start grace has passed, whoever came back. */
  endStartGrace(graceMs: number): void {
    if (this.#electionsOpen) return;
    this.#electionsOpen = true;
    this.#electLeaders(`${graceMs} ms after the SC started`);
  }

  /** Stops electing: the SC is leaving, so the sessions closing now are not SPUs leaving. */
  closeElections(): void {
    this.#electionsOpen = false;
    clearTimeout(this.#electionRetry);
  }

  recordReport(id: number, replicas: ReplicaReport[]): void {
    this.#topics.recordReport(id, replicas);
    this.#changed("Partition");
  }

  changeIsr(id: number, change: IsrChange): void {
    const result = this.#topics.changeIsr(id, change);
    if ("refused" in result) {
      log(`refused an in-sync set change from SPU ${id}: ${result.refused}`);
      // The leader learns the in-sync set that stands from a fresh assignment.
      this.#push(id);
      return;
    }
    log(`in-sync set of '${change.topic}-${change.partition}' is now [${change.isr.join(", ")}] (asked by leader SPU ${id})`);
    this.#changed("Partition");
    this.#pushTo(result.changed);
  }

  listSpus(): SpuView[] {
    return [...this.#spus.values()]
      .sort((a, b) => a.spec.spuId - b.spec.spuId)
      .map((spu) => ({ ...spu, status: { resolution: this.#online.has(spu.spec.spuId) ? "Online" : "Offline" } }));
  }

  /** Registers SPU `id`; refuses with SPU_EXISTS when it is registered already. */
  registerSpu(id: number, host: string, ports: { publicPort: number; privatePort: number }): SpuObject {
    if (this.#spus.has(id)) throw new AdminRefusal("SPU_EXISTS", `SPU ${id} is already registered`);
    const spu = makeSpuObject(id, host, ports);
    this.#store.put("SPU", spu.name, spu);
    this.#spus.set(id, spu);
    log(`registered SPU ${id}`);
    this.#changed("SPU");
    return spu;
  }

  /** Unregisters SPU `id` and ends its session; refuses with NO_SPU when it is not registered. */
  unregisterSpu(id: number): void {
    if (!this.#spus.has(id)) throw new AdminRefusal("NO_SPU", `SPU ${id} is not registered`);
    this.#store.remove("SPU", spuObjectName(id));
    this.#spus.delete(id);
    this.#hooks.disconnect(id);
    log(`unregistered SPU ${id}`);
    this.#changed("SPU");
  }

  listTopics(): TopicObject[] {
    return this.#topics.listTopics();
  }

  /** Creates a topic on the online SPUs; refuses (AdminRefusal) a bad name or count, a duplicate, or too few SPUs. */
  createTopic(request: { name: unknown; partitions?: unknown; replication?: unknown; compressionType?: unknown }): TopicObject {
    const topic = this.#topics.create(request, this.#onlineRegistered());
    log(`created topic '${topic.name}': ${topic.spec.partitions} partition(s), replication ${topic.spec.replicationFactor}`);
    this.#changed("Topic", "Partition");
    this.#pushTo(this.#online);
    return topic;
  }

  /** Deletes a topic and its partitions; refuses with NO_TOPIC when there is none. */
  deleteTopic(name: string): void {
    this.#topics.delete(name);
    log(`deleted topic '${name}'`);
    this.#changed("Topic", "Partition");
    this.#pushTo(this.#online);
  }

  listPartitions(topic?: string): PartitionView[] {
    return this.#topics.listPartitions((id) => this.#online.has(id), topic);
  }

  #onlineRegistered(): number[] {
    return [...this.#online].filter((id) => this.#spus.has(id)).sort((a, b) => a - b);
  }

  #push(id: number): void {
    if (!this.#online.has(id)) return;
    this.#hooks.push(id, {
      spus: [...this.#spus.values()].map((spu) => ({
        id: spu.spec.spuId,
        host: spu.spec.privateEndpoint.host,
        privatePort: spu.spec.privateEndpoint.port,
      })),
      replicas: this.#topics.assignmentsFor(id),
    });
  }

  #pushTo(ids: Iterable<number>): void {
    for (const id of [...ids]) this.#push(id);
  }

  /** Elects a leader for every partition whose leader is offline (once elections are open), then tells its replicas. */
  #electLeaders(trigger: string): void {
    if (!this.#electionsOpen) return;
    const { elected, leaderless } = this.#topics.electLeaders((id) => this.#online.has(id));
    const told = new Set<number>();
    for (const partition of elected) {
      const { leader, leaderEpoch, isr } = partition.leaderAndIsr;
      log(`elected SPU ${leader} leader of '${partition.name}' at epoch ${leaderEpoch}, in-sync [${isr.join(", ")}] (${trigger})`);
      this.#loggedLeaderless.delete(partition.name);
      for (const id of partition.spec.replicas) told.add(id);
    }
    const stillLeaderless = new Set(leaderless.map((entry) => entry.name));
    for (const name of this.#loggedLeaderless) if (!stillLeaderless.has(name)) this.#loggedLeaderless.delete(name);
    for (const { name, reason } of leaderless) {
      if (this.#loggedLeaderless.has(name)) continue;
      this.#loggedLeaderless.add(name);
      log(`partition '${name}' has no leader: ${reason}; it waits for an in-sync replica to return (${trigger})`);
    }
    if (elected.length > 0) this.#changed("Partition");
    this.#pushTo(told);
    if (leaderless.some((entry) => entry.unrecorded) && !this.#electionRetry) {
      this.#electionRetry = setTimeout(() => {
        this.#electionRetry = undefined;
        this.#electLeaders("retrying an election the SC could not record");
      }, ELECTION_RETRY_MS);
    }
  }
}
