/**
 * API keys and versions of Fluvio's public protocol, and the version ranges our servers
 * advertise in ApiVersions. Keys follow fluvio-sc-schema src/apis.rs (AdminPublicApiKey) and
 * fluvio-spu-schema src/server/api_key.rs (SpuServerApiKey); versions follow each request's
 * MIN/DEFAULT_API_VERSION (fluvio-protocol src/api/mod.rs: by default the range is
 * DEFAULT-1..DEFAULT) and what Fluvio's own SC and SPU advertise
 * (fluvio-sc src/services/public_api/api_version.rs, fluvio-spu src/services/public/api_versions.rs).
 * A client uses min(its max, the server's max) when the ranges overlap.
 */

export interface ApiVersionKey {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/** ApiVersions, the first request on every connection (to the SC and to each SPU). */
export const API_VERSIONS_KEY = 18;
/** The ApiVersions version clients send; its body fields start at version 1. */
export const API_VERSIONS_VERSION = 2;

export const SC_API_KEY = {
  create: 1001,
  delete: 1002,
  list: 1003,
  watch: 1004,
  /** Fluvio 0.13 on: a remote cluster's mirroring; this SC has no mirrors, and answers with an error. */
  mirroring: 1005,
  /** Fluvio 0.13 on: `topic add-partition` (and add-mirror). */
  update: 1006,
} as const;

export const SPU_API_KEY = {
  produce: 0,
  fetchOffsets: 1002,
  streamFetch: 1003,
  updateOffsets: 1005,
  /** Consumer offsets, Fluvio 0.17.2 on (consumer-offsets.ts). */
  updateConsumerOffset: 1006,
  deleteConsumerOffset: 1007,
  fetchConsumerOffsets: 1008,
} as const;

/** The version of every SC object API request (fluvio-sc-schema objects COMMON_VERSION, Fluvio 0.18). */
export const SC_OBJECT_VERSION = 19;
/** The version of the SPU requests (fluvio-spu-schema COMMON_VERSION, Fluvio 0.18). */
export const SPU_VERSION = 25;
/** UpdateOffsets keeps its default version 0. */
export const UPDATE_OFFSETS_VERSION = 0;

/** The oldest versions Fluvio's SC takes (each request's MIN_API_VERSION in fluvio-sc-schema src/objects). */
const CREATE_MIN_VERSION = 9;
const DELETE_MIN_VERSION = 1;
const LIST_WATCH_MIN_VERSION = 15;

/** What the SC's public port advertises: the ranges Fluvio 0.18's SC advertises for these APIs. */
export const SC_API_VERSIONS: readonly ApiVersionKey[] = [
  { apiKey: SC_API_KEY.create, minVersion: CREATE_MIN_VERSION, maxVersion: SC_OBJECT_VERSION },
  { apiKey: SC_API_KEY.delete, minVersion: DELETE_MIN_VERSION, maxVersion: SC_OBJECT_VERSION },
  { apiKey: SC_API_KEY.list, minVersion: LIST_WATCH_MIN_VERSION, maxVersion: SC_OBJECT_VERSION },
  { apiKey: SC_API_KEY.watch, minVersion: LIST_WATCH_MIN_VERSION, maxVersion: SC_OBJECT_VERSION },
];

/**
 * What an SPU's public port advertises (Fluvio's SPU also lists Fetch, key 1, which we do not
 * serve, and FetchOffsets at its one version; we serve FetchOffsets at every version).
 */
export const SPU_API_VERSIONS: readonly ApiVersionKey[] = [
  { apiKey: SPU_API_KEY.produce, minVersion: 0, maxVersion: SPU_VERSION },
  { apiKey: SPU_API_KEY.fetchOffsets, minVersion: 0, maxVersion: SPU_VERSION },
  { apiKey: SPU_API_KEY.streamFetch, minVersion: 0, maxVersion: SPU_VERSION },
  { apiKey: SPU_API_KEY.updateOffsets, minVersion: 0, maxVersion: UPDATE_OFFSETS_VERSION },
];

/**
 * The Fluvio platform version our servers report; clients require valid semver of at least
 * 0.9.0 (fluvio src/lib.rs MINIMUM_PLATFORM_VERSION). This is the release whose protocol we follow.
 */
export const FLUVIO_PLATFORM_VERSION = "0.18.1";
