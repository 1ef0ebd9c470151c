/**
 * What the CLI may do with an SC's store while the SC is not running: `create` and `resume`
 * seed the spec's SPUs, `status` reads what is registered and placed, `spu list|register|unregister`
 * read and edit the registered SPUs.
 */
import { makeSpuObject, MetadataStore, spuObjectName, type PartitionObject, type SpuObject, type TopicObject } from "./store.ts";
import type { PartitionView } from "./topic-registry.ts";
import type { FileWriter } from "../../base/files.ts";

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
      // Sizes are statuses, never stored: a stopped cluster's are unknown, shown as none yet reported.
      sizeBytes: 0,
    }));
  return { topics, partitions };
}

/** The SPUs registered in the store at `metadataDir`; throws a CorruptFileError naming a broken file. */
export function readStoredSpus(metadataDir: string): SpuObject[] {
  return new MetadataStore(metadataDir).listSpus();
}

/** Ids of the SPUs registered in the store at `metadataDir`; throws a CorruptFileError naming a broken file. */
export function storedSpuIds(metadataDir: string): number[] {
  return readStoredSpus(metadataDir).map((spu) => spu.spec.spuId);
}

/** The file that holds SPU `id` in the store at `metadataDir`. */
export function storedSpuPath(metadataDir: string, id: number): string {
  return new MetadataStore(metadataDir).pathOf("SPU", spuObjectName(id));
}

/**
 * Registers `spus`, listening on `host`, in the store at `metadataDir` of an SC that is not
 * running; the SC reads them when it starts, as a server reads the catalog initdb wrote. The
 * files go through `writer` (each durable at once by default; `create` passes its group's).
 */
export function seedSpus(
  metadataDir: string,
  options: { host: string; spus: { id: number; publicPort: number; privatePort: number }[]; writer?: FileWriter },
): void {
  const store = new MetadataStore(metadataDir);
  for (const spu of options.spus) store.put("SPU", spuObjectName(spu.id), makeSpuObject(spu.id, options.host, spu), { writer: options.writer });
}

/** Unregisters SPU `id` from the store at `metadataDir` of an SC that is not running; a no-op when it is not there. */
export function removeStoredSpu(metadataDir: string, id: number): void {
  new MetadataStore(metadataDir).remove("SPU", spuObjectName(id));
}
