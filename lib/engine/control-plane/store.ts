/**
 * The SC's metadata store: one YAML file per object, `metadata/<Kind>/<name>.yaml`, written
 * atomically. Only specs and decisions are stored: a Partition keeps its leader, leader epoch
 * and in-sync replica set because a later leader election must only pick a replica that holds
 * every acknowledged record. A status (is an SPU online? a partition's end offset?) is never
 * written, because a status read back from disk after a restart would be a lie.
 * What the CLI may do with a store whose SC is not running is in catalog.ts.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { CorruptFileError } from "../../base/errors.ts";
import { ensureDir, readYamlFile, removePath, writeGroupDurably, writeYamlAtomic, type FileWriter } from "../../base/files.ts";

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

/** A topic: each partition is placed once, when the topic is created or the partition added. */
export interface TopicObject {
  name: string;
  spec: {
    /** Tells this topic from an earlier one of the same name, so an SPU that missed a delete drops the old data. */
    id: string;
    partitions: number;
    replicationFactor: number;
    /** Fluvio's compression type: the codec every produced batch must name ("Any" takes all; absent in topics made before it was kept). */
    compressionType?: string;
    /** Fluvio's storage settings, each absent when the create did not give it (topic-config.ts). */
    retentionSeconds?: number;
    segmentSize?: number;
    maxPartitionSize?: number;
    /** A topic of Fluvio's own (consumer-offset), listed only when asked for. */
    system?: boolean;
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

  /** Every registered SPU; a file that is not an SPU object throws a CorruptFileError naming it. */
  listSpus(): SpuObject[] {
    return this.#files("SPU").map((file) => {
      const spu = readYamlFile(file) as SpuObject | undefined;
      if (!Number.isInteger(spu?.spec?.spuId) || !Number.isInteger(spu?.spec?.publicEndpoint?.port)) {
        throw new CorruptFileError(file, `'${file}' is not an SPU object (it needs spec.spuId and spec.publicEndpoint.port)`);
      }
      return spu!;
    });
  }

  /** The file that holds object `name` of `kind`. */
  pathOf(kind: Kind, name: string): string {
    return join(this.dir, kind, `${name}.yaml`);
  }

  /** Writes object `name` of `kind` through `options.writer` (durable at once by default). */
  put(kind: Kind, name: string, object: unknown, options: { writer?: FileWriter } = {}): void {
    ensureDir(join(this.dir, kind));
    writeYamlAtomic(this.pathOf(kind, name), object, { writer: options.writer });
  }

  remove(kind: Kind, name: string): void {
    removePath(this.pathOf(kind, name));
  }

  /**
   * Makes `changes` durable as one metadata write, off the event loop: the objects written
   * appear together, in the order given, once all are synced (lib/base/files.ts writeGroupDurably), and
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
