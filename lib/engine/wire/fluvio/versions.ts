/**
 * Every message version at which a field of Fluvio's codec appears or goes, named once, with
 * the Fluvio source that gates it. The field tables (fields.ts) use these names; no other
 * version number appears in the codec but the advertised ranges (api-keys.ts).
 */

// ---- SPU messages (fluvio-spu-schema) ----

/** StreamFetch's legacy wasm module, versions 11 to 18 (server/stream_fetch.rs). */
export const STREAM_FETCH_WASM_SINCE = 11;
/** StreamFetch's legacy single SmartModule and derived stream, versions 16 to 18. */
export const STREAM_FETCH_LEGACY_SMARTMODULE_SINCE = 16;
export const STREAM_FETCH_LEGACY_UNTIL = 18;
/** StreamFetch's list of SmartModules. */
export const STREAM_FETCH_SMARTMODULES_SINCE = 18;
/** StreamFetch's and FetchOffsets' consumer id; FetchOffsets carries it at this version only (server/fetch_offset.rs, 0.18). */
export const CONSUMER_ID_SINCE = 23;
export const FETCH_OFFSETS_CONSUMER_ID_UNTIL = 23;
/** A SmartModule invocation's name (server/smartmodule.rs COMMON_VERSION_HAS_SM_NAME, 0.18). */
export const SMARTMODULE_NAME_SINCE = 25;
/** A fetch response's next filter offset (fetch/response.rs). */
export const NEXT_FILTER_OFFSET_SINCE = 11;
/** SmartModule parameters' lookback, and its age (fluvio-smartmodule src/input.rs). */
export const LOOKBACK_SINCE = 20;
export const LOOKBACK_AGE_SINCE = 21;
/** Produce response's throttle time, log append time and log start offset (produce/response.rs). */
export const PRODUCE_THROTTLE_SINCE = 1;
export const PRODUCE_LOG_APPEND_TIME_SINCE = 2;
export const PRODUCE_LOG_START_OFFSET_SINCE = 5;
/** FetchConsumerOffsets' filters (server/consumer_offset.rs). */
export const CONSUMER_OFFSET_FILTERS_SINCE = 24;

// ---- ApiVersions (fluvio-protocol src/link/versions.rs) ----

/** The client's version, OS and architecture. */
export const API_VERSIONS_CLIENT_SINCE = 1;

// ---- SC objects (fluvio-sc-schema, fluvio-controlplane-metadata) ----

/** From this version on, object API messages carry a type label and a byte length (objects/mod.rs DYN_OBJ). */
export const DYNAMIC_OBJECT_VERSION = 11;
/** An SPU spec's local public endpoint (spu/spec.rs). */
export const SPU_LOCAL_ENDPOINT_SINCE = 1;
/** A topic's cleanup policy (topic/spec.rs). */
export const TOPIC_CLEANUP_POLICY_SINCE = 3;
/** Storage config of a topic; a partition's cleanup policy and storage (partition/spec.rs). */
export const STORAGE_SINCE = 4;
/** A partition status's size (partition/status.rs). */
export const PARTITION_SIZE_SINCE = 5;
/** Compression type of a topic and of a partition. */
export const COMPRESSION_TYPE_SINCE = 6;
/** A create request's timeout (objects/create.rs). */
export const CREATE_TIMEOUT_SINCE = 7;
/** List and Watch requests' summary flag (objects/list.rs, watch.rs). */
export const SUMMARY_SINCE = 10;
/** Deduplication of a topic and of a partition. */
export const DEDUPLICATION_SINCE = 12;
/** The system flag of topics and partitions; List's system filter; Delete's force. */
export const SYSTEM_SINCE = 13;
export const DELETE_FORCE_SINCE = 13;
/** Mirrors: partition maps', partitions' and topic statuses' mirror configs. */
export const MIRROR_SINCE = 14;
/** A partition status's base offset. */
export const PARTITION_BASE_OFFSET_SINCE = 16;
/** Mirrors' direction flags: a home's `source`, a remote's `target` (topic/spec.rs, partition/spec.rs, 0.13). */
export const MIRROR_DIRECTION_SINCE = 18;
/** The partition resolution OutOfStorage (partition/status.rs, 0.17.3). */
export const OUT_OF_STORAGE_SINCE = 19;
