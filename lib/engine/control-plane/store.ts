/**
 * The SC's metadata store: one YAML file per object, `metadata/<Kind>/<name>.yaml`, written
 * atomically. Only specs and decisions are stored: a Partition keeps its leader, leader epoch
 * and in-sync replica set because a later leader election must only pick a replica that holds
 * every acknowledged record. A status (is an SPU online? a partition's end offset?) is never
 * written, because a status read back from disk after a restart would be a lie.
 *
 * The functions at the end are what the CLI may do with a store whose SC is not running:
 * `create` and `resume` seed the spec's SPUs, `status` reads what is registered and placed. `spu
 * register|unregister` still edits it through `MetadataStore` while the SC is stopped.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ClusterError } from "../../errors.ts";
import { ensureDir, readYamlFile, removePath, writeGroupDurably, writeYamlAtomic } from "../../home.ts";
import type { PartitionView } from "./topic-registry.ts";

export type Kind = "SPU" | "Topic" | "Partition";

/** Where clients reach an SPU, in Fluvio's spelling. */
export interface IngressPort {
  port: number;
  ingress: { hostname: string }[];
  encryption: "PLAINTEXT";
}

/** Where the SC and other SPUs reach an SPU, in Fluvio's spelling. */
export interface Endpoint {
  port: number;
  host: string;
  encryption: "PLAINTEXT";
}

/** A registered SPU, named and shaped as Fluvio's admin API lists it (without its status). */
export interface SpuObject {
  name: string;
  spec: {
    spuId: number;
    spuType: "Custom";
    publicEndpoint: IngressPort;
    privateEndpoint: Endpoint;
    rack: string | null;
  };
}

export function spuObjectName(id: number): string {
  return `custom-spu-${id}`;
}

/** The SPU object for id `id` listening on `host` at `publicPort` and `privatePort`. */
export function makeSpuObject(id: number, host: string, ports: { publicPort: number; privatePort: number }): SpuObject {
  return {
    name: spuObjectName(id),
    spec: {
      spuId: id,
      spuType: "Custom",
      publicEndpoint: { port: ports.publicPort, ingress: [{ hostname: host }], encryption: "PLAINTEXT" },
      privateEndpoint: { port: ports.privatePort, host, encryption: "PLAINTEXT" },
      rack: null,
    },
  };
}

/** A topic: its partitions are placed once, when it is created. */
export interface TopicObject {
  name: string;
  spec: {
    /** Tells this topic from an earlier one of the same name, so an SPU that missed a delete drops the old data. */
    id: string;
    partitions: number;
    replicationFactor: number;
  };
}

/** Who holds a partition, who leads it, and which replicas are in sync (Kafka's LeaderAndIsr). */
export interface LeaderAndIsr {
  leader: number;
  /** Raised whenever the leader changes, so a deposed leader's requests are refused. */
  leaderEpoch: number;
  /** The replicas holding every acknowledged record; the leader is always one. */
  isr: number[];
}

/** One partition of a topic, named `<topic>-<partition>`. */
export interface PartitionObject {
  name: string;
  spec: { topic: string; topicId: string; partition: number; replicas: number[] };
  leaderAndIsr: LeaderAndIsr;
}

/** One object written (`object` given) or removed (`object` undefined) by a commit. */
export interface StoreChange {
  kind: Kind;
  name: string;
  object?: unknown;
}

/** Reads and writes the objects of one metadata directory. */
export class MetadataStore {
  readonly dir: string;
  /** The commit running now, if any: commits run one after another, in the order made. */
  #lastCommit: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Every object of `kind`, sorted by name; a file that does not parse throws, naming it. */
  list<T>(kind: Kind): T[] {
    return this.#files(kind).map((file) => readYamlFile(file) as T);
  }

  /** The object files of `kind`, sorted. */
  #files(kind: Kind): string[] {
    let files: string[];
    try {
      files = readdirSync(join(this.dir, kind));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return files
      .filter((file) => file.endsWith(".yaml"))
      .sort()
      .map((file) => join(this.dir, kind, file));
  }

  /** Every registered SPU; a file that is not an SPU object throws STATE_CORRUPT naming it. */
  listSpus(): SpuObject[] {
    return this.#files("SPU").map((file) => {
      const spu = readYamlFile(file) as SpuObject | undefined;
      if (!Number.isInteger(spu?.spec?.spuId) || !Number.isInteger(spu?.spec?.publicEndpoint?.port)) {
        throw new ClusterError("STATE_CORRUPT", `'${file}' is not an SPU object (it needs spec.spuId and spec.publicEndpoint.port)`, {
          hint: "fix or remove the file by hand, or remove the cluster with 'cluster delete'",
        });
      }
      return spu!;
    });
  }

  /** The file that holds object `name` of `kind`. */
  pathOf(kind: Kind, name: string): string {
    return join(this.dir, kind, `${name}.yaml`);
  }

  put(kind: Kind, name: string, object: unknown): void {
    ensureDir(join(this.dir, kind));
    writeYamlAtomic(this.pathOf(kind, name), object);
  }

  remove(kind: Kind, name: string): void {
    removePath(this.pathOf(kind, name));
  }

  /**
   * Makes `changes` durable as one metadata write, off the event loop: the objects written
   * appear together, in the order given, once all are synced (home.ts writeGroupDurably), and
   * then the removals are made, in order. Commits run one at a time in the order they were
   * asked for, so a later commit's files never race an earlier one's. Rejects (after the
   * commits before it) when the write fails; none of its written objects then appears.
   */
  commit(changes: readonly StoreChange[]): Promise<void> {
    const run = this.#lastCommit.then(() => this.write(changes));
    this.#lastCommit = run.catch(() => {});
    return run;
  }

  /** One commit's work; a test store may override it to fail as a full disk does. */
  protected async write(changes: readonly StoreChange[]): Promise<void> {
    const puts = changes.filter((change) => change.object !== undefined);
    for (const kind of new Set(puts.map((change) => change.kind))) ensureDir(join(this.dir, kind));
    await writeGroupDurably(puts.map((change) => ({ path: this.pathOf(change.kind, change.name), contents: `${Bun.YAML.stringify(change.object, null, 2)}\n` })));
    for (const change of changes) if (change.object === undefined) this.remove(change.kind, change.name);
  }
}

// The control plane's offline API: what the CLI reads and writes of a store whose SC is not
// running, so no verb needs to know the store's layout.

/**
 * The topics and partitions of the store at `metadataDir` as the SC would list them, read
 * without it (for `status` of a stopped cluster): every leader offline and no election
 * decided, since only a running SC knows which SPUs are connected. It only reads: a partition
 * whose topic is gone is left out, not removed as an SC starting removes it.
 */
export function readStoredTopics(metadataDir: string): { topics: TopicObject[]; partitions: PartitionView[] } {
  const store = new MetadataStore(metadataDir);
  const topics = store.list<TopicObject>("Topic");
  const partitions = store
    .list<PartitionObject>("Partition")
    .filter((partition) => topics.some((topic) => topic.name === partition.spec.topic && topic.spec.id === partition.spec.topicId))
    .sort((a, b) => a.spec.topic.localeCompare(b.spec.topic) || a.spec.partition - b.spec.partition)
    .map((partition) => ({
      topic: partition.spec.topic,
      partition: partition.spec.partition,
      replicas: partition.spec.replicas,
      ...partition.leaderAndIsr,
      online: false,
      leaderless: false,
      electionPending: false,
      endOffset: null,
      highWatermark: null,
    }));
  return { topics, partitions };
}

/** Ids of the SPUs registered in the store at `metadataDir`; throws STATE_CORRUPT naming a broken file. */
export function storedSpuIds(metadataDir: string): number[] {
  return new MetadataStore(metadataDir).listSpus().map((spu) => spu.spec.spuId);
}

/** The file that holds SPU `id` in the store at `metadataDir`. */
export function storedSpuPath(metadataDir: string, id: number): string {
  return new MetadataStore(metadataDir).pathOf("SPU", spuObjectName(id));
}

/**
 * Registers `spus`, listening on `host`, in the store at `metadataDir` of an SC that is not
 * running; the SC reads them when it starts, as a server reads the catalog initdb wrote.
 */
export function seedSpus(metadataDir: string, host: string, spus: { id: number; publicPort: number; privatePort: number }[]): void {
  const store = new MetadataStore(metadataDir);
  for (const spu of spus) store.put("SPU", spuObjectName(spu.id), makeSpuObject(spu.id, host, spu));
}
