/**
 * What the CLI may do with an SC's store while the SC is not running: `create` and `resume`
 * seed the spec's SPUs, `status` reads what is registered and placed. `spu register|unregister`
 * still edits it through `MetadataStore` while the SC is stopped.
 */
import { makeSpuObject, MetadataStore, spuObjectName, type PartitionObject, type TopicObject } from "./store.ts";
import type { PartitionView } from "./topic-registry.ts";

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
