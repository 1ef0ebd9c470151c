/**
 * The specs and statuses of the SC's objects as the object API carries them, with every field
 * gated by the message version exactly as the Rust derive gates it (a field with min_version N
 * is present when version >= N; when absent, decoding gives Rust's default for it). Follows
 * fluvio-controlplane-metadata src/spu/{spec,status}.rs, src/topic/{spec,status,deduplication}.rs,
 * src/partition/{spec,status}.rs and fluvio-sc-schema src/objects/metadata.rs (Metadata).
 *
 * Enum variants travel as their u8 tag, which for every enum here is the variant's index in
 * the arrays below.
 */
import { struct, u32, u64 } from "./fields.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

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

export function encodeSpuSpec(writer: Writer, spec: SpuSpec, version: number): void {
  writer.i32(spec.id);
  writer.variant(SPU_TYPES, spec.spuType);
  encodeIngressPort(writer, spec.publicEndpoint);
  encodeEndpoint(writer, spec.privateEndpoint);
  writer.optionString(spec.rack);
  if (version >= 1) writer.option(spec.publicEndpointLocal, encodeEndpoint);
}

export function decodeSpuSpec(reader: Reader, version: number): SpuSpec {
  return {
    id: reader.i32("spu id"),
    spuType: reader.variant(SPU_TYPES, "spu type"),
    publicEndpoint: decodeIngressPort(reader),
    privateEndpoint: decodeEndpoint(reader),
    rack: reader.optionString("rack"),
    publicEndpointLocal: version >= 1 ? reader.option("public local endpoint", decodeEndpoint) : null,
  };
}

export function encodeCustomSpuSpec(writer: Writer, spec: CustomSpuSpec): void {
  writer.i32(spec.id);
  encodeIngressPort(writer, spec.publicEndpoint);
  encodeEndpoint(writer, spec.privateEndpoint);
  writer.optionString(spec.rack);
  writer.option(spec.publicEndpointLocal, encodeEndpoint);
}

export function decodeCustomSpuSpec(reader: Reader): CustomSpuSpec {
  return {
    id: reader.i32("spu id"),
    publicEndpoint: decodeIngressPort(reader),
    privateEndpoint: decodeEndpoint(reader),
    rack: reader.optionString("rack"),
    publicEndpointLocal: reader.option("public local endpoint", decodeEndpoint),
  };
}

export function encodeSpuStatus(writer: Writer, status: SpuStatus): void {
  writer.variant(SPU_RESOLUTIONS, status.resolution);
}

export function decodeSpuStatus(reader: Reader): SpuStatus {
  return { resolution: reader.variant(SPU_RESOLUTIONS, "spu resolution") };
}

function encodeIngressPort(writer: Writer, port: IngressPort): void {
  writer.u16(port.port);
  writer.vec(port.ingress, (w, address) => {
    w.optionString(address.hostname);
    w.optionString(address.ip);
  });
  writer.variant(ENCRYPTIONS, port.encryption);
}

function decodeIngressPort(reader: Reader): IngressPort {
  return {
    port: reader.u16("public port"),
    ingress: reader.vec("ingress", (r) => ({ hostname: r.optionString("hostname"), ip: r.optionString("ip") }), 2),
    encryption: reader.variant(ENCRYPTIONS, "encryption"),
  };
}

function encodeEndpoint(writer: Writer, endpoint: Endpoint): void {
  writer.u16(endpoint.port);
  writer.string(endpoint.host);
  writer.variant(ENCRYPTIONS, endpoint.encryption);
}

function decodeEndpoint(reader: Reader): Endpoint {
  return {
    port: reader.u16("endpoint port"),
    host: reader.string("endpoint host"),
    encryption: reader.variant(ENCRYPTIONS, "encryption"),
  };
}

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
export type PartitionMirrorConfig =
  | { type: "Remote"; homeCluster: string; homeSpuKey: string; homeSpuId: number; homeSpuEndpoint: string }
  | { type: "Home"; remoteCluster: string; remoteReplica: string };

function encodeCleanupPolicy(writer: Writer, policy: CleanupPolicy): void {
  writer.u8(0);
  writer.u32(policy.timeInSeconds);
}

function decodeCleanupPolicy(reader: Reader): CleanupPolicy {
  reader.variant(["Segment"], "cleanup policy");
  return { type: "Segment", timeInSeconds: reader.u32("retention seconds") };
}

function encodeStorage(writer: Writer, storage: TopicStorageConfig): void {
  writer.option(storage.segmentSize, (w, size) => w.u32(size));
  writer.option(storage.maxPartitionSize, (w, size) => w.u64(size));
}

function decodeStorage(reader: Reader): TopicStorageConfig {
  return {
    segmentSize: reader.option("segment size", (r) => r.u32("segment size")),
    maxPartitionSize: reader.option("max partition size", (r) => r.u64("max partition size")),
  };
}

/** Duration: u64 seconds, u32 nanoseconds. */
export const duration = struct<Duration>([
  { name: "secs", type: u64, label: "duration seconds" },
  { name: "nanos", type: u32, label: "duration nanoseconds" },
]);

export function encodeDuration(writer: Writer, duration: Duration): void {
  writer.u64(duration.secs);
  writer.u32(duration.nanos);
}

export function decodeDuration(reader: Reader): Duration {
  return { secs: reader.u64("duration seconds"), nanos: reader.u32("duration nanoseconds") };
}

function encodeDeduplication(writer: Writer, deduplication: Deduplication): void {
  writer.u64(deduplication.bounds.count);
  writer.option(deduplication.bounds.age, encodeDuration);
  writer.string(deduplication.filter.transform.uses);
  writer.map(deduplication.filter.transform.with, (w, key) => w.string(key), (w, value) => w.string(value));
}

function decodeDeduplication(reader: Reader): Deduplication {
  const count = reader.u64("deduplication count");
  const age = reader.option("deduplication age", decodeDuration);
  const uses = reader.string("deduplication transform");
  const parameters = reader.map("deduplication parameters", (r) => r.string("parameter name"), (r) => r.string("parameter value"));
  return { bounds: { count, age }, filter: { transform: { uses, with: parameters } } };
}

export function encodePartitionMirrorConfig(writer: Writer, mirror: PartitionMirrorConfig): void {
  if (mirror.type === "Remote") {
    writer.u8(0);
    writer.string(mirror.homeCluster);
    writer.string(mirror.homeSpuKey);
    writer.i32(mirror.homeSpuId);
    writer.string(mirror.homeSpuEndpoint);
  } else {
    writer.u8(1);
    writer.string(mirror.remoteCluster);
    writer.string(mirror.remoteReplica);
  }
}

export function decodePartitionMirrorConfig(reader: Reader): PartitionMirrorConfig {
  if (reader.variant(["Remote", "Home"], "partition mirror") === "Remote") {
    return {
      type: "Remote",
      homeCluster: reader.string("home cluster"),
      homeSpuKey: reader.string("home spu key"),
      homeSpuId: reader.i32("home spu id"),
      homeSpuEndpoint: reader.string("home spu endpoint"),
    };
  }
  return { type: "Home", remoteCluster: reader.string("remote cluster"), remoteReplica: reader.string("remote replica") };
}

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
}

export interface SpuMirrorConfig {
  id: number;
  key: string;
  endpoint: string;
}

export type MirrorConfig =
  | { type: "Remote"; homeCluster: string; homeSpus: SpuMirrorConfig[] }
  | { type: "Home"; partitions: HomePartitionConfig[] };

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

export function encodeTopicSpec(writer: Writer, spec: TopicSpec, version: number): void {
  encodeReplicaSpec(writer, spec.replicas, version);
  if (version >= 3) writer.option(spec.cleanupPolicy, encodeCleanupPolicy);
  if (version >= 4) writer.option(spec.storage, encodeStorage);
  if (version >= 6) writer.variant(COMPRESSION_ALGORITHMS, spec.compressionType);
  if (version >= 12) writer.option(spec.deduplication, encodeDeduplication);
  if (version >= 13) writer.bool(spec.system);
}

export function decodeTopicSpec(reader: Reader, version: number): TopicSpec {
  return {
    replicas: decodeReplicaSpec(reader, version),
    cleanupPolicy: version >= 3 ? reader.option("cleanup policy", decodeCleanupPolicy) : null,
    storage: version >= 4 ? reader.option("storage", decodeStorage) : null,
    compressionType: version >= 6 ? reader.variant(COMPRESSION_ALGORITHMS, "compression type") : "Any",
    deduplication: version >= 12 ? reader.option("deduplication", decodeDeduplication) : null,
    system: version >= 13 ? reader.bool("system") : false,
  };
}

function encodeReplicaSpec(writer: Writer, replicas: ReplicaSpec, version: number): void {
  switch (replicas.type) {
    case "Assigned":
      writer.u8(0);
      writer.vec(replicas.maps, (w, map) => {
        w.u32(map.id);
        w.vec(map.replicas, (x, spu) => x.i32(spu));
        if (version >= 14) w.option(map.mirror, encodePartitionMirrorConfig);
      });
      return;
    case "Computed":
      writer.u8(1);
      writer.u32(replicas.partitions);
      writer.u32(replicas.replicationFactor);
      writer.bool(replicas.ignoreRackAssignment);
      return;
    case "Mirror":
      writer.u8(2);
      encodeMirrorConfig(writer, replicas.mirror);
      return;
  }
}

function decodeReplicaSpec(reader: Reader, version: number): ReplicaSpec {
  switch (reader.variant(["Assigned", "Computed", "Mirror"], "replica spec")) {
    case "Assigned":
      return {
        type: "Assigned",
        maps: reader.vec(
          "partition maps",
          (r) => ({
            id: r.u32("partition id"),
            replicas: r.vec("replicas", (x) => x.i32("spu id"), 4),
            mirror: version >= 14 ? r.option("partition mirror", decodePartitionMirrorConfig) : null,
          }),
          8,
        ),
      };
    case "Computed":
      return {
        type: "Computed",
        partitions: reader.u32("partitions"),
        replicationFactor: reader.u32("replication factor"),
        ignoreRackAssignment: reader.bool("ignore rack assignment"),
      };
    case "Mirror":
      return { type: "Mirror", mirror: decodeMirrorConfig(reader) };
  }
}

function encodeMirrorConfig(writer: Writer, mirror: MirrorConfig): void {
  if (mirror.type === "Remote") {
    writer.u8(0);
    writer.string(mirror.homeCluster);
    writer.vec(mirror.homeSpus, (w, spu) => {
      w.i32(spu.id);
      w.string(spu.key);
      w.string(spu.endpoint);
    });
  } else {
    writer.u8(1);
    writer.vec(mirror.partitions, (w, partition) => {
      w.string(partition.remoteCluster);
      w.string(partition.remoteReplica);
    });
  }
}

function decodeMirrorConfig(reader: Reader): MirrorConfig {
  if (reader.variant(["Remote", "Home"], "mirror config") === "Remote") {
    return {
      type: "Remote",
      homeCluster: reader.string("home cluster"),
      homeSpus: reader.vec("home spus", (r) => ({ id: r.i32("spu id"), key: r.string("spu key"), endpoint: r.string("spu endpoint") }), 8),
    };
  }
  return {
    type: "Home",
    partitions: reader.vec("home partitions", (r) => ({ remoteCluster: r.string("remote cluster"), remoteReplica: r.string("remote replica") }), 4),
  };
}

export function encodeTopicStatus(writer: Writer, status: TopicStatus, version: number): void {
  writer.variant(TOPIC_RESOLUTIONS, status.resolution);
  writer.map(status.replicaMap, (w, partition) => w.u32(partition), (w, replicas) => w.vec(replicas, (x, spu) => x.i32(spu)));
  if (version >= 14) writer.map(status.mirrorMap, (w, partition) => w.u32(partition), encodePartitionMirrorConfig);
  writer.string(status.reason);
}

export function decodeTopicStatus(reader: Reader, version: number): TopicStatus {
  return {
    resolution: reader.variant(TOPIC_RESOLUTIONS, "topic resolution"),
    replicaMap: reader.map("replica map", (r) => r.u32("partition id"), (r) => r.vec("replicas", (x) => x.i32("spu id"), 4)),
    mirrorMap: version >= 14 ? reader.map("mirror map", (r) => r.u32("partition id"), decodePartitionMirrorConfig) : new Map(),
    reason: reader.string("reason"),
  };
}

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

export const PARTITION_RESOLUTIONS = ["Offline", "Online", "LeaderOffline", "ElectionLeaderFound"] as const;
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

export function encodePartitionSpec(writer: Writer, spec: PartitionSpec, version: number): void {
  writer.i32(spec.leader);
  writer.vec(spec.replicas, (w, spu) => w.i32(spu));
  if (version >= 4) {
    writer.option(spec.cleanupPolicy, encodeCleanupPolicy);
    writer.option(spec.storage, encodeStorage);
  }
  if (version >= 6) writer.variant(COMPRESSION_ALGORITHMS, spec.compressionType);
  if (version >= 12) writer.option(spec.deduplication, encodeDeduplication);
  if (version >= 13) writer.bool(spec.system);
  if (version >= 14) writer.option(spec.mirror, encodePartitionMirrorConfig);
}

export function decodePartitionSpec(reader: Reader, version: number): PartitionSpec {
  return {
    leader: reader.i32("leader"),
    replicas: reader.vec("replicas", (r) => r.i32("spu id"), 4),
    cleanupPolicy: version >= 4 ? reader.option("cleanup policy", decodeCleanupPolicy) : null,
    storage: version >= 4 ? reader.option("storage", decodeStorage) : null,
    compressionType: version >= 6 ? reader.variant(COMPRESSION_ALGORITHMS, "compression type") : "Any",
    deduplication: version >= 12 ? reader.option("deduplication", decodeDeduplication) : null,
    system: version >= 13 ? reader.bool("system") : false,
    mirror: version >= 14 ? reader.option("partition mirror", decodePartitionMirrorConfig) : null,
  };
}

export function encodePartitionStatus(writer: Writer, status: PartitionStatus, version: number): void {
  writer.variant(PARTITION_RESOLUTIONS, status.resolution);
  encodeReplicaStatus(writer, status.leader);
  writer.u32(status.lsr);
  writer.vec(status.replicas, encodeReplicaStatus);
  if (version >= 5) writer.i64(status.size);
  writer.bool(status.isBeingDeleted);
  if (version >= 16) writer.i64(status.baseOffset);
}

export function decodePartitionStatus(reader: Reader, version: number): PartitionStatus {
  return {
    resolution: reader.variant(PARTITION_RESOLUTIONS, "partition resolution"),
    leader: decodeReplicaStatus(reader),
    lsr: reader.u32("live replicas"),
    replicas: reader.vec("replica statuses", decodeReplicaStatus, 20),
    size: version >= 5 ? reader.i64("partition size") : PARTITION_SIZE_NOT_SUPPORTED,
    isBeingDeleted: reader.bool("being deleted"),
    baseOffset: version >= 16 ? reader.i64("base offset") : 0,
  };
}

function encodeReplicaStatus(writer: Writer, replica: ReplicaStatus): void {
  writer.i32(replica.spu);
  writer.i64(replica.hw);
  writer.i64(replica.leo);
}

function decodeReplicaStatus(reader: Reader): ReplicaStatus {
  return { spu: reader.i32("replica spu"), hw: reader.i64("high watermark"), leo: reader.i64("log end offset") };
}

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

interface MetadataCodec<M> {
  encode(writer: Writer, metadata: M, version: number): void;
  decode(reader: Reader, version: number): M;
}

/** Metadata<S>: name, spec, status, for each object type. */
export const METADATA_CODECS: { [K in ObjectType]: MetadataCodec<ObjectMetadata[K]> } = {
  Topic: metadataCodec(encodeTopicSpec, decodeTopicSpec, encodeTopicStatus, decodeTopicStatus),
  Partition: metadataCodec(encodePartitionSpec, decodePartitionSpec, encodePartitionStatus, decodePartitionStatus),
  SPU: metadataCodec(encodeSpuSpec, decodeSpuSpec, encodeSpuStatus, decodeSpuStatus),
  CustomSpu: metadataCodec(encodeCustomSpuSpec, decodeCustomSpuSpec, encodeSpuStatus, decodeSpuStatus),
};

function metadataCodec<Spec, Status>(
  encodeSpec: (writer: Writer, spec: Spec, version: number) => void,
  decodeSpec: (reader: Reader, version: number) => Spec,
  encodeStatus: (writer: Writer, status: Status, version: number) => void,
  decodeStatus: (reader: Reader, version: number) => Status,
): MetadataCodec<Metadata<Spec, Status>> {
  return {
    encode(writer, metadata, version) {
      writer.string(metadata.name);
      encodeSpec(writer, metadata.spec, version);
      encodeStatus(writer, metadata.status, version);
    },
    decode(reader, version) {
      const name = reader.string("name");
      const spec = decodeSpec(reader, version);
      return { name, spec, status: decodeStatus(reader, version) };
    },
  };
}
