/**
 * The face of the control plane for the CLI: the catalog, what a command may read or write of
 * an SC's store while that SC is not running (catalog.ts), and the shapes it answers in.
 */
export { readStoredSpus, readStoredTopics, removeStoredSpu, seedSpus, storedSpuIds, storedSpuPath } from "./catalog.ts";
export type { SpuObject, TopicObject } from "./store.ts";
export type { PartitionView } from "./topic-registry.ts";
