/**
 * The face of the engine's vocabulary for the CLI: the limits a command checks or names before
 * it asks the cluster.
 */
export { MAX_TOPIC_NAME_LENGTH } from "./topic-name.ts";
export { PRODUCE_TIMEOUT_MS } from "./replica-info.ts";
export { DEFAULT_SEGMENT_BYTES, MIN_RETENTION_SECONDS, type TopicStorageSettings } from "./topic-config.ts";
