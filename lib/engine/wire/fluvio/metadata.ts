/**
 * The specs and statuses of the SC's objects as the object API carries them, declared as field
 * tables (fields.ts) with every field gated by the message version exactly as the Rust derive
 * gates it (a field with min_version N is present when version >= N; when absent, decoding
 * gives Rust's default for it). Follows fluvio-controlplane-metadata src/spu/{spec,status}.rs,
 * src/topic/{spec,status,deduplication}.rs, src/partition/{spec,status}.rs and fluvio-sc-schema
 * src/objects/metadata.rs (Metadata).
 *
 * Enum variants travel as their u8 tag, which for every enum here is the variant's index in
 * the arrays below.
 */
import { bool, codec, decoder, encoder, fixedDecoder, fixedEncoder, i32, i64, map, option, optionString, string, struct, u16, u32, u64, union, variant, vec, type Codec } from "./fields.ts";
import {
  COMPRESSION_TYPE_SINCE,
  DEDUPLICATION_SINCE,
  MIRROR_DIRECTION_SINCE,
  MIRROR_SINCE,
  OUT_OF_STORAGE_SINCE,
  PARTITION_BASE_OFFSET_SINCE,
  PARTITION_SIZE_SINCE,
  SPU_LOCAL_ENDPOINT_SINCE,
  STORAGE_SINCE,
  SYSTEM_SINCE,
  TOPIC_CLEANUP_POLICY_SINCE,
} from "./versions.ts";

export interface Metadata<Spec, Status> {
  name: string;
  spec: Spec;
  status: Status;
}

// ---- SPU and CustomSpu ----

export const ENCRYPTIONS = ["PLAINTEXT", "SSL"] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];

export const SPU_TYPES = ["Managed", "Custom"] as const;
export type SpuType = (typeof SPU_TYPES)[number];

export const SPU_RESOLUTIONS = ["Online", "Offline", "Init"] as const;
export type SpuResolution = (typeof SPU_RESOLUTIONS)[number];

export interface IngressAddr {
  hostname: string | null;
  ip: string | null;
}

/** Where clients reach an SPU: a client connects to ingress[0]'s hostname, else its ip, and `port`. */
export interface IngressPort {
  port: number;
  ingress: IngressAddr[];
  encryption: Encryption;
}

export interface Endpoint {
  port: number;
  host: string;
  encryption: Encryption;
}

export interface SpuSpec {
  id: number;
  spuType: SpuType;
  publicEndpoint: IngressPort;
  privateEndpoint: Endpoint;
  rack: string | null;
  /** From version 1. */
  publicEndpointLocal: Endpoint | null;
}

/** A CustomSpu's spec: an SpuSpec without the type, and public_endpoint_local at every version. */
export interface CustomSpuSpec {
  id: number;
  publicEndpoint: IngressPort;
  privateEndpoint: Endpoint;
  rack: string | null;
  publicEndpointLocal: Endpoint | null;
}

export interface SpuStatus {
  resolution: SpuResolution;
}

export type SpuMetadata = Metadata<SpuSpec, SpuStatus>;

export type CustomSpuMetadata = Metadata<CustomSpuSpec, SpuStatus>;

// ---- Shared by topics and partitions ----

export const COMPRESSION_ALGORITHMS = ["None", "Gzip", "Snappy", "Lz4", "Any", "Zstd"] as const;
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

export interface Duration {
  secs: number;
  nanos: number;
}

/** CleanupPolicy has one variant, Segment (tag 0). */
export interface CleanupPolicy {
  type: "Segment";
  timeInSeconds: number;
}

export interface TopicStorageConfig {
  segmentSize: number | null;
  maxPartitionSize: number | null;
}

export interface Deduplication {
  bounds: { count: number; age: Duration | null };
  filter: { transform: { uses: string; with: Map<string, string> } };
}

/** Where a mirrored partition's data comes from (Remote) or goes to (Home). */
/** Where a mirrored partition's data comes from (Remote) or goes to (Home); `target` and `source` from version 18. */
export type PartitionMirrorConfig =
  | { type: "Remote"; homeCluster: string; homeSpuKey: string; homeSpuId: number; homeSpuEndpoint: string; target?: boolean }
  | { type: "Home"; remoteCluster: string; remoteReplica: string; source?: boolean };

// ---- Topic ----

export interface PartitionMap {
  id: number;
  replicas: number[];
  /** From version 14. */
  mirror: PartitionMirrorConfig | null;
}

export interface HomePartitionConfig {
  remoteCluster: string;
  remoteReplica: string;
  /** From version 18. */
  source?: boolean;
}

export interface SpuMirrorConfig {
  id: number;
  key: string;
  endpoint: string;
}

/** `target` and `source` from version 18. */
export type MirrorConfig =
  | { type: "Remote"; homeCluster: string; homeSpus: SpuMirrorConfig[]; target?: boolean }
  | { type: "Home"; partitions: HomePartitionConfig[]; source?: boolean };

export type ReplicaSpec =
  | { type: "Assigned"; maps: PartitionMap[] }
  | { type: "Computed"; partitions: number; replicationFactor: number; ignoreRackAssignment: boolean }
  | { type: "Mirror"; mirror: MirrorConfig };

export interface TopicSpec {
  replicas: ReplicaSpec;
  /** From version 3. */
  cleanupPolicy: CleanupPolicy | null;
  /** From version 4. */
  storage: TopicStorageConfig | null;
  /** From version 6; "Any" when absent. */
  compressionType: CompressionAlgorithm;
  /** From version 12. */
  deduplication: Deduplication | null;
  /** From version 13. */
  system: boolean;
}

export const TOPIC_RESOLUTIONS = ["Init", "Pending", "InsufficientResources", "InvalidConfig", "Provisioned", "Deleting"] as const;
export type TopicResolution = (typeof TOPIC_RESOLUTIONS)[number];

export interface TopicStatus {
  resolution: TopicResolution;
  /** Partition id to replica SPU ids. */
  replicaMap: Map<number, number[]>;
  /** From version 14. */
  mirrorMap: Map<number, PartitionMirrorConfig>;
  reason: string;
}

export type TopicMetadata = Metadata<TopicSpec, TopicStatus>;

// ---- Partition (named "<topic>-<index>") ----

export interface PartitionSpec {
  leader: number;
  replicas: number[];
  /** From version 4. */
  cleanupPolicy: CleanupPolicy | null;
  /** From version 4. */
  storage: TopicStorageConfig | null;
  /** From version 6; "Any" when absent. */
  compressionType: CompressionAlgorithm;
  /** From version 12. */
  deduplication: Deduplication | null;
  /** From version 13. */
  system: boolean;
  /** From version 14. */
  mirror: PartitionMirrorConfig | null;
}

/** OutOfStorage from version 19 (sent as Offline to older clients, which do not know it). */
export const PARTITION_RESOLUTIONS = ["Offline", "Online", "LeaderOffline", "ElectionLeaderFound", "OutOfStorage"] as const;
export type PartitionResolution = (typeof PARTITION_RESOLUTIONS)[number];

/** A replica's progress: high watermark and log end offset. */
export interface ReplicaStatus {
  spu: number;
  hw: number;
  leo: number;
}

export interface PartitionStatus {
  resolution: PartitionResolution;
  leader: ReplicaStatus;
  /** Fluvio's name (a typo of "lrs"): the number of live replicas. */
  lsr: number;
  replicas: ReplicaStatus[];
  /** From version 5; PARTITION_SIZE_NOT_SUPPORTED when absent. */
  size: number;
  isBeingDeleted: boolean;
  /** From version 16; 0 when absent. */
  baseOffset: number;
}

export const PARTITION_SIZE_NOT_SUPPORTED = -2;

export type PartitionMetadata = Metadata<PartitionSpec, PartitionStatus>;

// ---- The object types the object API serves ----

/** Metadata of each object type, by its type label. */
export interface ObjectMetadata {
  Topic: TopicMetadata;
  Partition: PartitionMetadata;
  SPU: SpuMetadata;
  CustomSpu: CustomSpuMetadata;
}

export type ObjectType = keyof ObjectMetadata;

export const OBJECT_TYPES: readonly ObjectType[] = ["Topic", "Partition", "SPU", "CustomSpu"];

export function isObjectType(label: string): label is ObjectType {
  return (OBJECT_TYPES as readonly string[]).includes(label);
}

// ---- The tables ----

/** Duration: u64 seconds, u32 nanoseconds. */
export const duration = struct<Duration>([
  { name: "secs", type: u64, label: "duration seconds" },
  { name: "nanos", type: u32, label: "duration nanoseconds" },
]);

const encryption = variant(ENCRYPTIONS);

const ENDPOINT = struct<Endpoint>([
  { name: "port", type: u16, label: "endpoint port" },
  { name: "host", type: string, label: "endpoint host" },
  { name: "encryption", type: encryption },
]);

const INGRESS_PORT = struct<IngressPort>([
  { name: "port", type: u16, label: "public port" },
  {
    name: "ingress",
    type: vec(
      struct<IngressAddr>([
        { name: "hostname", type: optionString },
        { name: "ip", type: optionString },
      ]),
    ),
  },
  { name: "encryption", type: encryption },
]);

const SPU_SPEC = struct<SpuSpec>([
  { name: "id", type: i32, label: "spu id" },
  { name: "spuType", type: variant(SPU_TYPES), label: "spu type" },
  { name: "publicEndpoint", type: INGRESS_PORT },
  { name: "privateEndpoint", type: ENDPOINT },
  { name: "rack", type: optionString },
  { name: "publicEndpointLocal", type: option(ENDPOINT), since: SPU_LOCAL_ENDPOINT_SINCE, absent: null, label: "public local endpoint" },
]);

/** A CustomSpu's spec: an SpuSpec without the type, and public_endpoint_local at every version. */
const CUSTOM_SPU_SPEC = struct<CustomSpuSpec>([
  { name: "id", type: i32, label: "spu id" },
  { name: "publicEndpoint", type: INGRESS_PORT },
  { name: "privateEndpoint", type: ENDPOINT },
  { name: "rack", type: optionString },
  { name: "publicEndpointLocal", type: option(ENDPOINT), label: "public local endpoint" },
]);

const SPU_STATUS = struct<SpuStatus>([{ name: "resolution", type: variant(SPU_RESOLUTIONS), label: "spu resolution" }]);

/** CleanupPolicy has one variant, Segment. */
const CLEANUP_POLICY = union<CleanupPolicy>(["Segment"], {
  Segment: struct<Omit<CleanupPolicy, "type">>([{ name: "timeInSeconds", type: u32, label: "retention seconds" }]),
});

const STORAGE = struct<TopicStorageConfig>([
  { name: "segmentSize", type: option(u32) },
  { name: "maxPartitionSize", type: option(u64) },
]);

const DEDUPLICATION = struct<Deduplication>([
  {
    name: "bounds",
    type: struct<Deduplication["bounds"]>([
      { name: "count", type: u64, label: "deduplication count" },
      { name: "age", type: option(duration), label: "deduplication age" },
    ]),
  },
  {
    name: "filter",
    type: struct<Deduplication["filter"]>([
      {
        name: "transform",
        type: struct<Deduplication["filter"]["transform"]>([
          { name: "uses", type: string, label: "deduplication transform" },
          { name: "with", type: map(string, string, "parameter name", "parameter value"), label: "deduplication parameters" },
        ]),
      },
    ]),
  },
]);

/** A mirror's direction flag: false when absent, as Rust's default. */
const flag = codec<boolean | undefined>(1, (w, value) => w.bool(value ?? false), (r, _, what) => r.bool(what));

const HOME_PARTITION = struct<HomePartitionConfig>([
  { name: "remoteCluster", type: string },
  { name: "remoteReplica", type: string },
  { name: "source", type: flag, since: MIRROR_DIRECTION_SINCE, absent: undefined },
]);

const PARTITION_MIRROR = union<PartitionMirrorConfig>(["Remote", "Home"], {
  Remote: struct<Omit<Extract<PartitionMirrorConfig, { type: "Remote" }>, "type">>([
    { name: "homeCluster", type: string },
    { name: "homeSpuKey", type: string },
    { name: "homeSpuId", type: i32 },
    { name: "homeSpuEndpoint", type: string },
    { name: "target", type: flag, since: MIRROR_DIRECTION_SINCE, absent: undefined },
  ]),
  Home: HOME_PARTITION,
});

const MIRROR_CONFIG = union<MirrorConfig>(["Remote", "Home"], {
  Remote: struct<Omit<Extract<MirrorConfig, { type: "Remote" }>, "type">>([
    { name: "homeCluster", type: string },
    {
      name: "homeSpus",
      type: vec(
        struct<SpuMirrorConfig>([
          { name: "id", type: i32, label: "spu id" },
          { name: "key", type: string, label: "spu key" },
          { name: "endpoint", type: string, label: "spu endpoint" },
        ]),
      ),
    },
    { name: "target", type: flag, since: MIRROR_DIRECTION_SINCE, absent: undefined },
  ]),
  Home: struct<Omit<Extract<MirrorConfig, { type: "Home" }>, "type">>([
    { name: "partitions", label: "home partitions", type: vec(HOME_PARTITION) },
    { name: "source", type: flag, since: MIRROR_DIRECTION_SINCE, absent: undefined },
  ]),
});

const SPU_IDS = vec(i32, "spu id");

const REPLICA_SPEC = union<ReplicaSpec>(["Assigned", "Computed", "Mirror"], {
  Assigned: struct<Omit<Extract<ReplicaSpec, { type: "Assigned" }>, "type">>([
    {
      name: "maps",
      label: "partition maps",
      type: vec(
        struct<PartitionMap>([
          { name: "id", type: u32, label: "partition id" },
          { name: "replicas", type: SPU_IDS },
          { name: "mirror", type: option(PARTITION_MIRROR), since: MIRROR_SINCE, absent: null, label: "partition mirror" },
        ]),
      ),
    },
  ]),
  Computed: struct<Omit<Extract<ReplicaSpec, { type: "Computed" }>, "type">>([
    { name: "partitions", type: u32 },
    { name: "replicationFactor", type: u32 },
    { name: "ignoreRackAssignment", type: bool },
  ]),
  Mirror: struct<Omit<Extract<ReplicaSpec, { type: "Mirror" }>, "type">>([{ name: "mirror", type: MIRROR_CONFIG, label: "mirror config" }]),
});

const compressionType = variant(COMPRESSION_ALGORITHMS);

const TOPIC_SPEC = struct<TopicSpec>([
  { name: "replicas", type: REPLICA_SPEC, label: "replica spec" },
  { name: "cleanupPolicy", type: option(CLEANUP_POLICY), since: TOPIC_CLEANUP_POLICY_SINCE, absent: null },
  { name: "storage", type: option(STORAGE), since: STORAGE_SINCE, absent: null },
  { name: "compressionType", type: compressionType, since: COMPRESSION_TYPE_SINCE, absent: "Any" },
  { name: "deduplication", type: option(DEDUPLICATION), since: DEDUPLICATION_SINCE, absent: null },
  { name: "system", type: bool, since: SYSTEM_SINCE, absent: false },
]);

const TOPIC_STATUS = struct<TopicStatus>([
  { name: "resolution", type: variant(TOPIC_RESOLUTIONS), label: "topic resolution" },
  { name: "replicaMap", type: map(u32, SPU_IDS, "partition id", "replicas") },
  { name: "mirrorMap", type: map(u32, PARTITION_MIRROR, "partition id", "partition mirror"), since: MIRROR_SINCE, absent: new Map() },
  { name: "reason", type: string },
]);

const PARTITION_SPEC = struct<PartitionSpec>([
  { name: "leader", type: i32 },
  { name: "replicas", type: SPU_IDS },
  { name: "cleanupPolicy", type: option(CLEANUP_POLICY), since: STORAGE_SINCE, absent: null },
  { name: "storage", type: option(STORAGE), since: STORAGE_SINCE, absent: null },
  { name: "compressionType", type: compressionType, since: COMPRESSION_TYPE_SINCE, absent: "Any" },
  { name: "deduplication", type: option(DEDUPLICATION), since: DEDUPLICATION_SINCE, absent: null },
  { name: "system", type: bool, since: SYSTEM_SINCE, absent: false },
  { name: "mirror", type: option(PARTITION_MIRROR), since: MIRROR_SINCE, absent: null, label: "partition mirror" },
]);

const REPLICA_STATUS = struct<ReplicaStatus>([
  { name: "spu", type: i32, label: "replica spu" },
  { name: "hw", type: i64, label: "high watermark" },
  { name: "leo", type: i64, label: "log end offset" },
]);

const PARTITION_STATUS = struct<PartitionStatus>([
  {
    name: "resolution",
    type: variant(PARTITION_RESOLUTIONS, { OutOfStorage: { since: OUT_OF_STORAGE_SINCE, before: "Offline" } }),
    label: "partition resolution",
  },
  { name: "leader", type: REPLICA_STATUS },
  { name: "lsr", type: u32, label: "live replicas" },
  { name: "replicas", type: vec(REPLICA_STATUS), label: "replica statuses" },
  { name: "size", type: i64, since: PARTITION_SIZE_SINCE, absent: PARTITION_SIZE_NOT_SUPPORTED, label: "partition size" },
  { name: "isBeingDeleted", type: bool, label: "being deleted" },
  { name: "baseOffset", type: i64, since: PARTITION_BASE_OFFSET_SINCE, absent: 0 },
]);

/** Metadata<S>: name, spec, status. */
function metadata<Spec, Status>(spec: Codec<Spec>, status: Codec<Status>): Codec<Metadata<Spec, Status>> {
  return struct<Metadata<Spec, Status>>([
    { name: "name", type: string },
    { name: "spec", type: spec },
    { name: "status", type: status },
  ]);
}

/** Metadata of each object type, by its type label. */
export const METADATA_CODECS: { [K in ObjectType]: Codec<ObjectMetadata[K]> } = {
  Topic: metadata(TOPIC_SPEC, TOPIC_STATUS),
  Partition: metadata(PARTITION_SPEC, PARTITION_STATUS),
  SPU: metadata(SPU_SPEC, SPU_STATUS),
  CustomSpu: metadata(CUSTOM_SPU_SPEC, SPU_STATUS),
};

export const encodeTopicSpec = encoder(TOPIC_SPEC);
export const decodeTopicSpec = decoder(TOPIC_SPEC, "topic spec");
/** A CustomSpu's spec has no version-gated fields. */
export const encodeCustomSpuSpec = fixedEncoder(CUSTOM_SPU_SPEC);
export const decodeCustomSpuSpec = fixedDecoder(CUSTOM_SPU_SPEC, "custom spu spec");
