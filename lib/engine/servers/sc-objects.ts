/**
 * The controller's objects in Fluvio's shapes (metadata.ts): what the SC's public port lists
 * and watches. An SPU's ingress is its host as an IP (or a hostname when it is not one), so a
 * Fluvio client finds each partition leader's public port; a partition's status carries the
 * leader's high watermark and end offset, its in-sync followers (`replicas`, with offsets the
 * SC does not track: -1) and their count with the leader (`lsr`). A topic's settings are
 * given back as its create gave them (unset ones as null), and each of its partitions carries
 * them as Fluvio's partition spec does.
 */
import type { SpuView } from "../control-plane/controller.ts";
import type { SpuObject, TopicObject } from "../control-plane/store.ts";
import type { PartitionView } from "../control-plane/topic-registry.ts";
import {
  type CleanupPolicy,
  type CompressionAlgorithm,
  type CustomSpuMetadata,
  type IngressAddr,
  type PartitionMetadata,
  type PartitionResolution,
  type SpuMetadata,
  type TopicMetadata,
  type TopicStorageConfig,
} from "../wire/fluvio/metadata.ts";

/** A topic's settings in the fields Fluvio's topic and partition specs share. */
function topicSettings(spec: TopicObject["spec"] | undefined): {
  cleanupPolicy: CleanupPolicy | null;
  storage: TopicStorageConfig | null;
  compressionType: CompressionAlgorithm;
  system: boolean;
} {
  const storage =
    spec?.segmentSize === undefined && spec?.maxPartitionSize === undefined
      ? null
      : { segmentSize: spec.segmentSize ?? null, maxPartitionSize: spec.maxPartitionSize ?? null };
  return {
    cleanupPolicy: spec?.retentionSeconds === undefined ? null : { type: "Segment", timeInSeconds: spec.retentionSeconds },
    storage,
    compressionType: (spec?.compressionType ?? "Any") as CompressionAlgorithm,
    system: spec?.system ?? false,
  };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function ingressOf(host: string): IngressAddr {
  return IPV4.test(host) || host.includes(":") ? { hostname: null, ip: host } : { hostname: host, ip: null };
}

function customSpec(spu: SpuObject) {
  const host = spu.spec.publicEndpoint.ingress[0]?.hostname ?? spu.spec.privateEndpoint.host;
  return {
    id: spu.spec.spuId,
    publicEndpoint: { port: spu.spec.publicEndpoint.port, ingress: [ingressOf(host)], encryption: "PLAINTEXT" as const },
    privateEndpoint: { port: spu.spec.privateEndpoint.port, host: spu.spec.privateEndpoint.host, encryption: "PLAINTEXT" as const },
    rack: spu.spec.rack,
    publicEndpointLocal: null,
  };
}

export function spuMetadata(spu: SpuView): SpuMetadata {
  return { name: spu.name, spec: { ...customSpec(spu), spuType: "Custom" }, status: { resolution: spu.status.resolution } };
}

export function customSpuMetadata(spu: SpuView): CustomSpuMetadata {
  return { name: spu.name, spec: customSpec(spu), status: { resolution: spu.status.resolution } };
}

export function topicMetadata(topic: TopicObject, partitions: readonly Pick<PartitionView, "partition" | "replicas">[]): TopicMetadata {
  return {
    name: topic.name,
    spec: {
      replicas: { type: "Computed", partitions: topic.spec.partitions, replicationFactor: topic.spec.replicationFactor, ignoreRackAssignment: false },
      ...topicSettings(topic.spec),
      deduplication: null,
    },
    status: {
      resolution: "Provisioned",
      replicaMap: new Map(partitions.map((partition) => [partition.partition, partition.replicas])),
      mirrorMap: new Map(),
      reason: "",
    },
  };
}

function partitionResolution(partition: PartitionView): PartitionResolution {
  if (partition.online) return "Online";
  if (partition.leaderless) return "LeaderOffline";
  if (partition.electionPending) return "ElectionLeaderFound";
  return "Offline";
}

/** Partition `partition` of topic `topic` (its settings; undefined only while a delete is under way). */
export function partitionMetadata(partition: PartitionView, topic: TopicObject | undefined): PartitionMetadata {
  const followers = partition.isr.filter((id) => id !== partition.leader);
  return {
    name: `${partition.topic}-${partition.partition}`,
    spec: {
      leader: partition.leader,
      replicas: partition.replicas,
      ...topicSettings(topic?.spec),
      deduplication: null,
      mirror: null,
    },
    status: {
      resolution: partitionResolution(partition),
      leader: { spu: partition.leader, hw: partition.highWatermark ?? -1, leo: partition.endOffset ?? -1 },
      lsr: partition.isr.length,
      replicas: followers.map((spu) => ({ spu, hw: -1, leo: -1 })),
      size: partition.sizeBytes,
      isBeingDeleted: false,
      baseOffset: 0,
    },
  };
}
