/**
 * The CLI's client of a cluster's public ports, in Fluvio's own protocol (fluvio-connection.ts):
 * the SC's object API for SPUs, topics and partitions, and each SPU's Produce, FetchOffsets and
 * StreamFetch, and the consumer offsets the consumer-offset partition's leader keeps. Because it is Fluvio's protocol, this client would serve a real Fluvio SC too.
 *
 * Refusals keep the CLI's error codes where Fluvio's error code says the same thing (a topic
 * that exists, an SPU registered twice, ...); a port that does not answer is SC_UNREACHABLE or
 * SPU_UNREACHABLE; an answer that does not decode is ADMIN_ERROR or SPU_ERROR.
 */
import { ClusterError, type ErrorCode } from "../base/errors.ts";
import { FluvioConnection } from "./fluvio-connection.ts";
import {
  decodeListResponse,
  decodeStatus,
  encodeCreateRequest,
  encodeDeleteRequest,
  encodeListRequest,
  encodeUpdateRequest,
  SC_API_KEY,
  SC_OBJECT_VERSION,
  SPU_API_KEY,
  SPU_VERSION,
  UPDATE_OFFSETS_VERSION,
  type CreateRequest,
  type DeleteRequest,
  type UpdateRequest,
  type ErrorCode as FluvioErrorCode,
  type ObjectMetadata,
  type PartitionMetadata,
  type Reader,
  type SpuMetadata,
  type TopicMetadata,
  type Writer,
} from "../engine/wire/fluvio/mod.ts";
import type { Codec, ValueSpans } from "../engine/wire/fluvio/spu-mod.ts";
import type { PartitionView as ControllerPartitionView } from "../engine/control-plane/mod.ts";
import type { TopicStorageSettings } from "../engine/model/mod.ts";

/** One SPU as the SC reports it. */
export interface SpuReport {
  id: number;
  online: boolean;
}

/** A topic as the CLI shows it: its settings are null where the create left them unset (the default). */
export interface TopicView {
  name: string;
  partitions: number;
  replication: number;
  retentionSeconds: number | null;
  segmentSize: number | null;
  maxPartitionSize: number | null;
  /** As Fluvio's CLI spells it: any, none, gzip, snappy, lz4, zstd. */
  compressionType: string;
  system: boolean;
}

/** The settings a topic is created with, beside its partitions and replication; absent means the default. */
export interface TopicSettings extends TopicStorageSettings {
  compressionType?: keyof typeof TOPIC_COMPRESSION_TYPES;
  system?: boolean;
}

/**
 * A partition as `status` and `topic` show it: the controller's view as Fluvio's partition
 * objects carry it, which is all of it but the leader epoch.
 */
export type PartitionView = Omit<ControllerPartitionView, "leaderEpoch">;

/** A registered SPU in the shape `spu list --json` prints. */
export interface SpuEntry {
  name: string;
  spec: {
    spuId: number;
    spuType: string;
    publicEndpoint: { port: number; host: string };
    privateEndpoint: { port: number; host: string };
    rack: string | null;
  };
  status: { resolution: string };
}

const REQUEST_TIMEOUT_MS = 2_000;

/** The SC's public port, and the connection to it this command has open. */
export interface AdminTarget {
  address: { host: string; port: number };
  connection?: Promise<FluvioConnection>;
}

/**
 * What the client needs of a cluster's saved spec: where its SC and SPUs listen. (The whole
 * spec, lib/cluster/spec.ts `ResolvedSpec`, is one of these.)
 */
export interface ClusterAddresses {
  host: string;
  sc: { publicPort: number };
  spus: { id: number; publicPort: number }[];
}

/** The SC of the cluster whose spec is `spec`. */
export function adminTarget(spec: Pick<ClusterAddresses, "host" | "sc">): AdminTarget {
  return { address: { host: spec.host, port: spec.sc.publicPort } };
}

/** A cluster whose SC runs, for the verbs that need it (topics, produce, consume). */
export interface RunningCluster {
  /** Its paths; the client names the cluster in its messages. */
  paths: { name: string };
  spec: ClusterAddresses;
  admin: AdminTarget;
}

/** The open connection of `target`, opened now if there is none (or the last one failed). */
async function connectionOf(target: AdminTarget, unreachable: (cause: unknown) => ClusterError): Promise<FluvioConnection> {
  target.connection ??= FluvioConnection.open(target.address, REQUEST_TIMEOUT_MS);
  try {
    return await target.connection;
  } catch (error) {
    target.connection = undefined;
    throw unreachable(error);
  }
}

function scUnreachable(target: AdminTarget): (cause: unknown) => ClusterError {
  return (cause) =>
    new ClusterError("SC_UNREACHABLE", `the SC at ${target.address.host}:${target.address.port} does not answer`, {
      hint: "check 'cluster status'; 'cluster resume' restarts a stopped SC",
      cause,
    });
}

/** One request to the SC's object API; its answer's body is read by `read`. */
async function scRequest<T>(target: AdminTarget, apiKey: number, writeBody: (writer: Writer, version: number) => void, read: (body: Reader, version: number) => T): Promise<T> {
  const unreachable = scUnreachable(target);
  const connection = await connectionOf(target, unreachable);
  const version = Math.min(connection.versionOf(apiKey) ?? SC_OBJECT_VERSION, SC_OBJECT_VERSION);
  let body: Reader;
  try {
    body = await connection.request(apiKey, version, (writer) => writeBody(writer, version), { timeoutMs: REQUEST_TIMEOUT_MS });
  } catch (error) {
    target.connection = undefined;
    connection.close();
    throw unreachable(error);
  }
  try {
    return read(body, version);
  } catch (error) {
    throw new ClusterError("ADMIN_ERROR", `the SC's answer does not decode: ${(error as Error).message}`, {
      hint: "the SC and this CLI may be of different versions; 'cluster logs sc' shows what the SC did",
      cause: error,
    });
  }
}

/** Every object of `type`; of topics and partitions, those of system topics when `system` is true, else the others. */
async function listObjects<K extends keyof ObjectMetadata>(target: AdminTarget, type: K, system = false): Promise<ObjectMetadata[K][]> {
  const response = await scRequest(
    target,
    SC_API_KEY.list,
    (writer, version) => encodeListRequest(writer, { type, nameFilters: [], summary: false, system }, version),
    decodeListResponse,
  );
  if (response.type !== type) throw new ClusterError("ADMIN_ERROR", `the SC answered a list of '${type}' with a list of '${response.type}'`);
  return response.items as ObjectMetadata[K][];
}

/** The CLI's codes for the Fluvio error codes the SC answers with. */
const SC_REFUSALS: Partial<Record<FluvioErrorCode["code"], ErrorCode>> = {
  TopicAlreadyExists: "TOPIC_EXISTS",
  TopicNotFound: "NO_TOPIC",
  TopicInvalidName: "TOPIC_INVALID",
  TopicInvalidConfiguration: "TOPIC_INVALID",
  // What Fluvio's SC answers when the SPUs cannot hold the replicas asked for.
  TopicError: "INSUFFICIENT_SPUS",
  SpuAlreadyExists: "SPU_EXISTS",
  SpuNotFound: "NO_SPU",
  SystemSpecUpdatingAttempt: "SYSTEM_TOPIC",
};

/** Sends a Create or Delete and throws the refusal its Status carries. */
async function changeObject(target: AdminTarget, apiKey: number, writeBody: (writer: Writer, version: number) => void, what: string): Promise<void> {
  const status = await scRequest(target, apiKey, writeBody, (body) => decodeStatus(body));
  if (status.errorCode.code === "None") return;
  const message = status.errorMessage ?? `the SC refused to ${what}: ${status.errorCode.code}`;
  const code = SC_REFUSALS[status.errorCode.code];
  if (code) throw new ClusterError(code, message);
  throw new ClusterError("ADMIN_ERROR", `the SC refused to ${what}: ${message}`);
}

function spuReport(spu: SpuMetadata): SpuReport {
  return { id: spu.spec.id, online: spu.status.resolution === "Online" };
}

/** The registered SPUs and whether each is online. */
export async function listSpus(target: AdminTarget): Promise<SpuReport[]> {
  return (await listObjects(target, "SPU")).map(spuReport);
}

/** The registered SPUs in the shape `spu list --json` prints. */
export async function listSpuEntries(target: AdminTarget): Promise<SpuEntry[]> {
  return (await listObjects(target, "SPU")).map((spu) => ({
    name: spu.name,
    spec: {
      spuId: spu.spec.id,
      spuType: spu.spec.spuType,
      publicEndpoint: { port: spu.spec.publicEndpoint.port, host: hostOf(spu) },
      privateEndpoint: { port: spu.spec.privateEndpoint.port, host: spu.spec.privateEndpoint.host },
      rack: spu.spec.rack,
    },
    status: { resolution: spu.status.resolution },
  }));
}

/** Where clients reach an SPU, as Fluvio's client picks it: the first ingress's hostname, else its IP. */
function hostOf(spu: SpuMetadata): string {
  const ingress = spu.spec.publicEndpoint.ingress[0];
  return ingress?.hostname ?? ingress?.ip ?? "";
}

/** Registers an SPU; the SC refuses with SPU_EXISTS when its id is registered already. */
export async function registerSpu(target: AdminTarget, spu: { id: number; host: string; publicPort: number; privatePort: number }): Promise<void> {
  const request: CreateRequest = {
    type: "CustomSpu",
    common: { name: `custom-spu-${spu.id}`, dryRun: false, timeout: null },
    spec: {
      id: spu.id,
      publicEndpoint: { port: spu.publicPort, ingress: [{ hostname: null, ip: spu.host }], encryption: "PLAINTEXT" },
      privateEndpoint: { port: spu.privatePort, host: spu.host, encryption: "PLAINTEXT" },
      rack: null,
      publicEndpointLocal: null,
    },
  };
  await changeObject(target, SC_API_KEY.create, (writer, version) => encodeCreateRequest(writer, request, version), `register SPU ${spu.id}`);
}

/** Unregisters SPU `id`; the SC refuses with NO_SPU when it is not registered. */
export async function unregisterSpu(target: AdminTarget, id: number): Promise<void> {
  const request: DeleteRequest = { type: "CustomSpu", key: { id }, force: false };
  await changeObject(target, SC_API_KEY.delete, (writer, version) => encodeDeleteRequest(writer, request, version), `unregister SPU ${id}`);
}

function topicView(topic: TopicMetadata): TopicView {
  const { spec } = topic;
  const settings = {
    retentionSeconds: spec.cleanupPolicy?.timeInSeconds ?? null,
    segmentSize: spec.storage?.segmentSize ?? null,
    maxPartitionSize: spec.storage?.maxPartitionSize ?? null,
    compressionType: spec.compressionType.toLowerCase(),
    system: spec.system,
  };
  const replicas = spec.replicas;
  if (replicas.type === "Computed") return { name: topic.name, partitions: replicas.partitions, replication: replicas.replicationFactor, ...settings };
  const maps = replicas.type === "Assigned" ? replicas.maps : [];
  return { name: topic.name, partitions: maps.length, replication: maps[0]?.replicas.length ?? 0, ...settings };
}

/** Every topic: the system topics when `system` is true, else the others. */
export async function listTopics(target: AdminTarget, options: { system?: boolean } = {}): Promise<TopicView[]> {
  return (await listObjects(target, "Topic", options.system)).map(topicView);
}

/** Fluvio's compression types by the names its CLI takes. */
const TOPIC_COMPRESSION_TYPES = { any: "Any", none: "None", gzip: "Gzip", snappy: "Snappy", lz4: "Lz4", zstd: "Zstd" } as const;

/** Creates a topic; the SC refuses with TOPIC_EXISTS, TOPIC_INVALID or INSUFFICIENT_SPUS. Resolves with its partitions. */
export async function createTopic(
  target: AdminTarget,
  topic: { name: string; partitions: number; replication: number } & TopicSettings,
): Promise<PartitionView[]> {
  const { retentionSeconds, segmentSize, maxPartitionSize } = topic;
  const request: CreateRequest = {
    type: "Topic",
    common: { name: topic.name, dryRun: false, timeout: null },
    spec: {
      replicas: { type: "Computed", partitions: topic.partitions, replicationFactor: topic.replication, ignoreRackAssignment: false },
      cleanupPolicy: retentionSeconds === undefined ? null : { type: "Segment", timeInSeconds: retentionSeconds },
      storage: segmentSize === undefined && maxPartitionSize === undefined ? null : { segmentSize: segmentSize ?? null, maxPartitionSize: maxPartitionSize ?? null },
      compressionType: TOPIC_COMPRESSION_TYPES[topic.compressionType ?? "any"],
      deduplication: null,
      system: topic.system ?? false,
    },
  };
  await changeObject(target, SC_API_KEY.create, (writer, version) => encodeCreateRequest(writer, request, version), `create topic '${topic.name}'`);
  return listPartitions(target, topic.name, { system: topic.system });
}

/** Deletes a topic and its partitions; the SC refuses with NO_TOPIC. */
export async function deleteTopic(target: AdminTarget, name: string): Promise<void> {
  const request: DeleteRequest = { type: "Topic", key: name, force: false };
  await changeObject(target, SC_API_KEY.delete, (writer, version) => encodeDeleteRequest(writer, request, version), `delete topic '${name}'`);
}

/**
 * Adds `count` partitions to topic `name` (Fluvio's `topic add-partition`); the SC refuses with
 * NO_TOPIC, SYSTEM_TOPIC, TOPIC_INVALID or INSUFFICIENT_SPUS. Resolves with the topic's
 * partitions, the added ones last.
 */
export async function addPartitions(target: AdminTarget, name: string, count: number): Promise<PartitionView[]> {
  const request: UpdateRequest = { type: "Topic", key: name, action: { type: "AddPartition", count } };
  await changeObject(target, SC_API_KEY.update, (writer, version) => encodeUpdateRequest(writer, request, version), `add partitions to topic '${name}'`);
  return listPartitions(target, name);
}

/** A partition as the SC describes it (its name is `<topic>-<index>`). */
export function partitionView(partition: PartitionMetadata): PartitionView {
  const cut = partition.name.lastIndexOf("-");
  const { leader, replicas } = partition.spec;
  const { resolution, leader: leaderStatus } = partition.status;
  const followers = new Set(partition.status.replicas.map((replica) => replica.spu));
  const online = resolution === "Online";
  return {
    topic: partition.name.slice(0, cut),
    partition: Number(partition.name.slice(cut + 1)),
    leader,
    replicas,
    isr: replicas.filter((id) => id === leader || followers.has(id)),
    online,
    leaderless: resolution === "LeaderOffline",
    electionPending: resolution === "ElectionLeaderFound",
    endOffset: online && leaderStatus.leo >= 0 ? leaderStatus.leo : null,
    highWatermark: online && leaderStatus.hw >= 0 ? leaderStatus.hw : null,
    sizeBytes: Math.max(partition.status.size, 0),
  };
}

/** Every partition (of `topic` when given), sorted by topic and index. */
export async function listPartitions(target: AdminTarget, topic?: string, options: { system?: boolean } = {}): Promise<PartitionView[]> {
  return (await listObjects(target, "Partition", options.system))
    .map(partitionView)
    .filter((view) => topic === undefined || view.topic === topic)
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Where a partition is led: the leader's id and public address. */
export interface PartitionLeader {
  partition: number;
  leader: number;
  address: { host: string; port: number };
}

/** The leader of every partition of `topic` (a system topic with `system`), by partition number; throws NO_TOPIC when there is no such topic. */
export async function topicLeaders(cluster: RunningCluster, topic: string, options: { system?: boolean } = {}): Promise<PartitionLeader[]> {
  const [partitions, spus] = await Promise.all([listPartitions(cluster.admin, topic, options), listObjects(cluster.admin, "SPU")]);
  const name = cluster.paths.name;
  if (partitions.length === 0) {
    throw new ClusterError("NO_TOPIC", `topic '${topic}' does not exist in cluster '${name}'`, {
      hint: `run 'cluster topic create ${topic} --name ${name}', or 'cluster topic list --name ${name}' to see the topics`,
    });
  }
  return partitions.map((view) => {
    const spu = spus.find((entry) => entry.spec.id === view.leader);
    const host = (spu && hostOf(spu)) || cluster.spec.host;
    const port = spu?.spec.publicEndpoint.port ?? cluster.spec.spus.find((entry) => entry.id === view.leader)?.publicPort ?? 0;
    return { partition: view.partition, leader: view.leader, address: { host, port } };
  });
}

/** The leader of partition `partition` of `topic`; throws NO_TOPIC or NO_PARTITION. */
export async function partitionLeader(cluster: RunningCluster, topic: string, partition: number): Promise<PartitionLeader> {
  const leaders = await topicLeaders(cluster, topic);
  const found = leaders.find((entry) => entry.partition === partition);
  if (!found) {
    throw new ClusterError("NO_PARTITION", `topic '${topic}' has no partition ${partition} (it has ${leaders.length})`, {
      hint: `pass --partition from 0 to ${leaders.length - 1}`,
    });
  }
  return found;
}

// ---- SPUs: produce and consume ----

/** The SPU half of Fluvio's codec: Produce, FetchOffsets, StreamFetch, UpdateOffsets and record batches. */
type SpuCodec = typeof import("../engine/wire/fluvio/spu-mod.ts");

let spuCodec: Promise<SpuCodec> | undefined;

/**
 * The SPU half of the codec, loaded by the first produce or consume.
 *
 * NOTE: not imported with the rest: it is about 1,200 lines that cost every process that loads
 * this file about 3.5 ms of CPU, and `status`, `create` and `resume` only talk to the SC.
 */
function loadSpuCodec(): Promise<SpuCodec> {
  spuCodec ??= import("../engine/wire/fluvio/spu-mod.ts");
  return spuCodec;
}

/** Connections to SPUs, one per leader address, for the life of the command. */
const spuConnections = new Map<string, Promise<FluvioConnection>>();

function spuUnreachable(leader: PartitionLeader, clusterName: string, why: string): (cause: unknown) => ClusterError {
  return (cause) =>
    new ClusterError(
      "SPU_UNREACHABLE",
      `SPU ${leader.leader}, the leader of partition ${leader.partition}, ${why} at ${leader.address.host}:${leader.address.port}`,
      { hint: `check 'cluster status --name ${clusterName}'; 'cluster resume --name ${clusterName}' restarts a stopped SPU`, cause },
    );
}

async function spuConnection(leader: PartitionLeader, clusterName: string): Promise<FluvioConnection> {
  const key = `${leader.address.host}:${leader.address.port}`;
  const target: AdminTarget = { address: leader.address, connection: spuConnections.get(key) };
  try {
    return await connectionOf(target, spuUnreachable(leader, clusterName, "does not answer"));
  } finally {
    if (target.connection) spuConnections.set(key, target.connection);
    else spuConnections.delete(key);
  }
}

function forgetSpuConnection(leader: PartitionLeader, connection: FluvioConnection): void {
  spuConnections.delete(`${leader.address.host}:${leader.address.port}`);
  connection.close();
}

/** The CLI's codes an SPU names in an `Other` answer. */
const SPU_CODES: ErrorCode[] = ["SC_UNREACHABLE", "DISK_FULL"];

/** The CLI's code for an SPU's error answer. */
function spuError(errorCode: FluvioErrorCode, leader: PartitionLeader, clusterName: string): ClusterError {
  const hint = `'cluster status --name ${clusterName}' shows each partition's leader and in-sync replicas`;
  switch (errorCode.code) {
    case "NotLeaderForPartition":
    case "PartitionNotLeader":
      return new ClusterError("NOT_LEADER", `SPU ${leader.leader} does not lead partition ${leader.partition}`, { hint });
    case "OffsetOutOfRange":
      return new ClusterError("OFFSET_OUT_OF_RANGE", `the offset is outside partition ${leader.partition}`, { hint });
    case "OffsetEvicted":
      return new ClusterError("OFFSET_OUT_OF_RANGE", `offset ${errorCode.offset} of partition ${leader.partition} was deleted by the topic's retention`, {
        hint: `the oldest offset kept is ${errorCode.nextAvailable}: consume from there, or with --from-beginning`,
      });
    case "RequestTimedOut":
      return new ClusterError("PRODUCE_TIMEOUT", `the in-sync replicas of partition ${leader.partition} did not all confirm in time`, { hint });
    case "CompressionError":
      return new ClusterError("COMPRESSION_MISMATCH", `SPU ${leader.leader} refused the batch: its compression is not the topic's compression type`, {
        hint: `produce with the --compression the topic was created with ('topic create --compression-type'), or to a topic of compression type any`,
      });
    case "Other": {
      // This engine's SPUs name the CLI's code before the message where Fluvio has none (spu-public-server.ts).
      const [, named, message] = /^([A-Z_]+): (.*)$/s.exec(errorCode.message) ?? [];
      const code = SPU_CODES.find((candidate) => candidate === named) ?? "SPU_ERROR";
      if (code === "DISK_FULL") {
        return new ClusterError(code, message!, {
          hint: `free space on the disk named above and run the command again; the cluster carries on by itself once there is room ('cluster status --name ${clusterName}' shows it)`,
        });
      }
      return new ClusterError(code, message ?? errorCode.message, { hint });
    }
    default:
      return new ClusterError("SPU_ERROR", `SPU ${leader.leader} answered ${errorCode.code}`, { hint });
  }
}

/**
 * How long past a produce's timeout the CLI waits for the SPU's answer: the SPU answers
 * RequestTimedOut (PRODUCE_TIMEOUT) once the timeout passes, so one that says nothing by then is wedged.
 */
const PRODUCE_ANSWER_MARGIN_MS = 1_000;

/** A batch ready to produce: its bytes (compressed when asked) and how many records it holds. */
export interface EncodedBatch {
  records: Uint8Array;
  count: number;
}

/** One batch of `values` (no keys; given as views, or as spans of the chunks they lie in), compressed with `compression` when given. */
export async function encodeBatch(values: readonly Uint8Array[] | ValueSpans, options: { compression?: Codec } = {}): Promise<EncodedBatch> {
  const { encodeRecords, encodeValueSpans, compressBatch } = await loadSpuCodec();
  const head = { baseOffset: 0, firstTimestamp: Date.now() };
  const count = "starts" in values ? values.starts.length : values.length;
  const batch =
    "starts" in values
      ? encodeValueSpans(values, head)
      : encodeRecords(
          values.map((value) => ({ attributes: 0, timestampDelta: 0, key: null, value })),
          head,
        );
  return { records: options.compression ? compressBatch(batch, options.compression) : batch, count };
}

/**
 * Produces `values` as one batch to `leader` (an EncodedBatch, or values for `encodeBatch`);
 * resolves once every in-sync replica has them (acks=all). The SPU is given `timeoutMs` to get
 * them there.
 */
export async function produceBatch(
  cluster: RunningCluster,
  topic: string,
  leader: PartitionLeader,
  values: EncodedBatch | readonly Uint8Array[] | ValueSpans,
  options: { timeoutMs: number; compression?: Codec },
): Promise<{ baseOffset: number; lastOffset: number }> {
  const { timeoutMs, compression } = options;
  const [connection, { encodeProduceRequest, decodeProduceResponse }, { records, count }] = await Promise.all([
    spuConnection(leader, cluster.paths.name),
    loadSpuCodec(),
    "records" in values ? values : encodeBatch(values, { compression }),
  ]);
  let body: Reader;
  try {
    body = await connection.request(
      SPU_API_KEY.produce,
      SPU_VERSION,
      (writer) =>
        encodeProduceRequest(
          writer,
          {
            transactionalId: null,
            isolation: "ReadCommitted",
            timeoutMs,
            topics: [{ name: topic, partitions: [{ partitionIndex: leader.partition, records }] }],
            smartModules: [],
          },
          SPU_VERSION,
        ),
      { timeoutMs: timeoutMs + PRODUCE_ANSWER_MARGIN_MS },
    );
  } catch (error) {
    forgetSpuConnection(leader, connection);
    throw spuUnreachable(leader, cluster.paths.name, `did not answer a produce within ${(timeoutMs + PRODUCE_ANSWER_MARGIN_MS) / 1000}s`)(error);
  }
  const answer = decodeSpuAnswer(leader, cluster.paths.name, () => decodeProduceResponse(body, SPU_VERSION).responses[0]?.partitions[0]);
  if (answer.errorCode.code !== "None") throw spuError(answer.errorCode, leader, cluster.paths.name);
  return { baseOffset: answer.baseOffset, lastOffset: answer.baseOffset + count - 1 };
}

/** The error for an SPU answer that does not decode (or lacks the partition asked about). */
function malformedAnswer(leader: PartitionLeader, clusterName: string, problem?: unknown): ClusterError {
  return new ClusterError("SPU_ERROR", `SPU ${leader.leader} answered with a malformed body${problem ? `: ${(problem as Error).message}` : ""}`, {
    hint: `the SPU and this CLI may be of different versions; 'cluster logs spu-${leader.leader} --name ${clusterName}' shows what it did`,
    cause: problem,
  });
}

/** Reads an SPU's answer with `read`; an answer it cannot make sense of is SPU_ERROR. */
function decodeSpuAnswer<T>(leader: PartitionLeader, clusterName: string, read: () => T | undefined): T {
  let value: T | undefined;
  try {
    value = read();
  } catch (error) {
    throw malformedAnswer(leader, clusterName, error);
  }
  if (value === undefined) throw malformedAnswer(leader, clusterName);
  return value;
}

/** The start offset and high watermark of a partition, from its leader. */
export async function partitionOffsets(cluster: RunningCluster, topic: string, leader: PartitionLeader): Promise<{ start: number; highWatermark: number }> {
  const [connection, { encodeFetchOffsetsRequest, decodeFetchOffsetsResponse }] = await Promise.all([spuConnection(leader, cluster.paths.name), loadSpuCodec()]);
  let body: Reader;
  try {
    body = await connection.request(
      SPU_API_KEY.fetchOffsets,
      SPU_VERSION,
      (writer) => encodeFetchOffsetsRequest(writer, { topics: [{ name: topic, partitions: [{ partitionIndex: leader.partition }] }], consumerId: null }, SPU_VERSION),
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
  } catch (error) {
    forgetSpuConnection(leader, connection);
    throw spuUnreachable(leader, cluster.paths.name, `did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`)(error);
  }
  const answer = decodeSpuAnswer(leader, cluster.paths.name, () => decodeFetchOffsetsResponse(body).topics[0]?.partitions[0]);
  if (answer.errorCode.code !== "None") throw spuError(answer.errorCode, leader, cluster.paths.name);
  return { start: answer.startOffset, highWatermark: answer.lastStableOffset };
}

/**
 * Records a stream delivered, from the offset asked for (their batches are checked, CRC-32C
 * included, on arrival; their records when read): how many, the offset after the last, and the
 * leader's high watermark then.
 */
export interface StreamedRecords {
  /** The whole batches the SPU sent, as it sent them (from the one holding the offset asked for). */
  batches: Uint8Array;
  /** The offset of the first record. */
  offset: number;
  count: number;
  /** Their values, in offset order. */
  values(): Uint8Array[];
  /** Their values, each followed by '\n', in one buffer: what `cluster consume` prints. */
  lines(): Uint8Array;
  nextOffset: number;
  highWatermark: number;
}

/**
 * A StreamFetch from `offset` at `leader`: `next()` waits for the next answer. The SPU sends
 * on once told what was received (UpdateOffsets, as Fluvio's consumer does on each answer):
 * that is said as an answer arrives while at most one waits unread, so the SPU reads its next
 * records while these are used, and a slow reader holds the stream back at two answers. An
 * error answer, or the connection failing, rejects `next()`; `close()` ends the stream.
 */
export class RecordStream {
  readonly #leader: PartitionLeader;
  readonly #clusterName: string;
  readonly #connection: FluvioConnection;
  readonly #codec: SpuCodec;
  readonly #answers: (StreamedRecords | ClusterError)[] = [];
  #waiter: (() => void) | undefined;
  #cancel: () => void;
  #streamId: number | undefined;
  /** The offset after the last records received and not yet reported to the SPU. */
  #unreported: number | undefined;
  /** The offset of the next record to deliver. */
  #nextOffset: number;

  private constructor(leader: PartitionLeader, clusterName: string, connection: FluvioConnection, codec: SpuCodec, offset: number) {
    this.#leader = leader;
    this.#clusterName = clusterName;
    this.#connection = connection;
    this.#codec = codec;
    this.#nextOffset = offset;
    this.#cancel = () => {};
  }

  /** With `consumerId`, the stream is that consumer's, and `commit` keeps its offsets. */
  static async open(cluster: RunningCluster, topic: string, leader: PartitionLeader, offset: number, maxBytes: number, options: { consumerId?: string } = {}): Promise<RecordStream> {
    // A stream of its own connection: closing it is how a Fluvio stream ends.
    const [connection, codec] = await Promise.all([
      FluvioConnection.open(leader.address, REQUEST_TIMEOUT_MS).catch((error) => {
        throw spuUnreachable(leader, cluster.paths.name, "does not answer")(error);
      }),
      loadSpuCodec(),
    ]);
    const stream = new RecordStream(leader, cluster.paths.name, connection, codec, offset);
    const { cancel } = connection.stream(
      SPU_API_KEY.streamFetch,
      SPU_VERSION,
      (writer) =>
        codec.encodeStreamFetchRequest(
          writer,
          {
            topic,
            partition: leader.partition,
            fetchOffset: offset,
            maxBytes,
            isolation: "ReadCommitted",
            wasmModule: new Uint8Array(0),
            smartModule: null,
            derivedStream: null,
            smartModules: [],
            consumerId: options.consumerId ?? null,
          },
          SPU_VERSION,
        ),
      {
        onAnswer: (body) => stream.#onAnswer(body),
        onClose: (error) => stream.#push(spuUnreachable(leader, cluster.paths.name, "closed the stream")(error)),
      },
    );
    stream.#cancel = cancel;
    return stream;
  }

  /** The next records, or undefined when none came within `waitMs` or `signal` aborted first. */
  async next(waitMs: number, signal?: AbortSignal): Promise<StreamedRecords | undefined> {
    if (this.#answers.length === 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal?.addEventListener("abort", done);
        this.#waiter = done;
      });
      this.#waiter = undefined;
    }
    const answer = this.#answers.shift();
    if (answer instanceof ClusterError) {
      this.close();
      throw answer;
    }
    this.#reportReceived();
    return answer;
  }

  /** Tells the SPU what arrived, unless more than one answer already waits unread. */
  #reportReceived(): void {
    if (this.#unreported === undefined || this.#streamId === undefined || this.#answers.length > 1) return;
    const update = { offsets: [{ offset: this.#unreported, sessionId: this.#streamId }] };
    this.#unreported = undefined;
    // The SPU's acknowledgement of an offset update carries nothing the stream needs.
    this.#connection.request(SPU_API_KEY.updateOffsets, UPDATE_OFFSETS_VERSION, (writer) => this.#codec.encodeUpdateOffsetsRequest(writer, update), { timeoutMs: REQUEST_TIMEOUT_MS }).catch(() => {});
  }

  /**
   * Commits `offset` (the last record read) as the stream's consumer's, on the stream's own
   * connection as Fluvio's consumer does (UpdateConsumerOffset names the stream); resolves once
   * the SPU keeping the offsets has it on disk.
   */
  async commit(offset: number): Promise<void> {
    const leader = this.#leader;
    if (this.#streamId === undefined) throw new ClusterError("SPU_ERROR", `SPU ${leader.leader} has not opened the stream of partition ${leader.partition} yet`);
    const sessionId = this.#streamId;
    let body: Reader;
    try {
      body = await this.#connection.request(
        SPU_API_KEY.updateConsumerOffset,
        SPU_VERSION,
        (writer) => this.#codec.encodeUpdateConsumerOffsetRequest(writer, { offset, sessionId }),
        { timeoutMs: CONSUMER_OFFSET_TIMEOUT_MS },
      );
    } catch (error) {
      throw spuUnreachable(leader, this.#clusterName, `did not answer a commit within ${CONSUMER_OFFSET_TIMEOUT_MS / 1000}s`)(error);
    }
    const answer = decodeSpuAnswer(leader, this.#clusterName, () => this.#codec.decodeUpdateConsumerOffsetResponse(body));
    if (answer.errorCode.code !== "None") throw consumerOffsetError(answer.errorCode, this.#clusterName, `committing offset ${offset}`);
  }

  close(): void {
    this.#cancel();
    this.#connection.close();
  }

  #onAnswer(body: Reader): void {
    try {
      const response = this.#codec.decodeStreamFetchResponse(body, SPU_VERSION);
      this.#streamId = response.streamId;
      const { partition } = response;
      if (partition.errorCode.code !== "None") return this.#push(spuError(partition.errorCode, this.#leader, this.#clusterName));
      // Whole batches from the one holding the offset asked for: the records below it were had already.
      const { records } = partition;
      const from = this.#nextOffset;
      const scanned = this.#codec.scanBatches(records);
      let nextOffset = from;
      let count = 0;
      for (const batch of scanned) {
        const end = batch.baseOffset + batch.lastOffsetDelta + 1;
        count += Math.max(0, end - Math.max(from, batch.baseOffset));
        nextOffset = Math.max(nextOffset, end);
      }
      const decoded = <T>(decode: () => T): T => {
        try {
          return decode();
        } catch (error) {
          throw malformedAnswer(this.#leader, this.#clusterName, error);
        }
      };
      const values = () =>
        decoded(() => {
          const found: Uint8Array[] = [];
          for (const batch of this.#codec.decodeBatches(records)) {
            for (const record of batch.records) if (batch.baseOffset + record.offsetDelta >= from) found.push(record.value);
          }
          return found;
        });
      const lines = () => decoded(() => this.#codec.valueLines(records, from, scanned).lines);
      const offset = Math.max(from, scanned[0]?.baseOffset ?? from);
      this.#push({ batches: records, offset, count, values, lines, nextOffset, highWatermark: partition.highWatermark });
      this.#nextOffset = nextOffset;
      this.#unreported = nextOffset;
      this.#reportReceived();
    } catch (error) {
      this.#push(malformedAnswer(this.#leader, this.#clusterName, error));
    }
  }

  #push(answer: StreamedRecords | ClusterError): void {
    this.#answers.push(answer);
    this.#waiter?.();
  }
}

// ---- Consumer offsets ----

/** Fluvio's system topic whose one partition's leader keeps the consumer offsets (fluvio-types defaults.rs). */
const CONSUMER_OFFSET_TOPIC = "consumer-offset";
/** A commit or list waits on the offsets leader's fsync, and on its forward from another SPU. */
const CONSUMER_OFFSET_TIMEOUT_MS = 10_000;

/** The offset a consumer committed on one partition, as `consumer list` shows it. */
export interface ConsumerOffsetView {
  consumer: string;
  topic: string;
  partition: number;
  /** The last offset the consumer read: it goes on at the next. */
  offset: number;
  /** When it was committed, seconds since the epoch. */
  modifiedTime: number;
}

/** The CLI's error for a consumer-offset answer that is not None, `doing` what. */
function consumerOffsetError(errorCode: FluvioErrorCode, clusterName: string, doing: string): ClusterError {
  const message = errorCode.code === "Other" ? errorCode.message : errorCode.code;
  return new ClusterError("OFFSETS_UNAVAILABLE", `the cluster could not serve consumer offsets (${doing}): ${message}`, {
    hint: `'cluster status --name ${clusterName}' shows whether the leader of '${CONSUMER_OFFSET_TOPIC}-0' runs; 'cluster resume --name ${clusterName}' restarts it`,
  });
}

/** The SPU leading the consumer-offset partition; throws OFFSETS_UNAVAILABLE before the SC has made it. */
async function consumerOffsetLeader(cluster: RunningCluster): Promise<PartitionLeader> {
  const name = cluster.paths.name;
  const leaders = await topicLeaders(cluster, CONSUMER_OFFSET_TOPIC, { system: true }).catch((error) => {
    if (!(error instanceof ClusterError) || error.code !== "NO_TOPIC") throw error;
    throw new ClusterError("OFFSETS_UNAVAILABLE", `cluster '${name}' has no '${CONSUMER_OFFSET_TOPIC}' topic yet: its SC makes it once an SPU is online`, {
      hint: `wait for an SPU to come online ('cluster status --name ${name}'), then run the command again`,
    });
  });
  return leaders[0]!;
}

/** A request to the consumer-offset leader; an SPU that does not answer is SPU_UNREACHABLE. */
async function offsetsRequest(cluster: RunningCluster, apiKey: number, write: (writer: Writer) => void): Promise<{ leader: PartitionLeader; body: Reader; codec: SpuCodec }> {
  const leader = await consumerOffsetLeader(cluster);
  const name = cluster.paths.name;
  const unreachable = (why: string) => (cause: unknown) =>
    new ClusterError("SPU_UNREACHABLE", `SPU ${leader.leader}, which keeps the consumer offsets (it leads '${CONSUMER_OFFSET_TOPIC}-0'), ${why} at ${leader.address.host}:${leader.address.port}`, {
      hint: `check 'cluster status --name ${name}'; 'cluster resume --name ${name}' restarts a stopped SPU (the offsets have one replica, as in Fluvio, and wait for it)`,
      cause,
    });
  const [connection, codec] = await Promise.all([spuConnection(leader, name).catch((error) => Promise.reject(unreachable("does not answer")(error))), loadSpuCodec()]);
  try {
    return { leader, codec, body: await connection.request(apiKey, SPU_VERSION, write, { timeoutMs: CONSUMER_OFFSET_TIMEOUT_MS }) };
  } catch (error) {
    forgetSpuConnection(leader, connection);
    throw unreachable(`did not answer within ${CONSUMER_OFFSET_TIMEOUT_MS / 1000}s`)(error);
  }
}

/** Every consumer offset kept (of `consumer` and partition `replica` when given), sorted by consumer, topic and partition. */
export async function listConsumerOffsets(
  cluster: RunningCluster,
  filters: { consumer?: string; replica?: { topic: string; partition: number } } = {},
): Promise<ConsumerOffsetView[]> {
  const codec = await loadSpuCodec();
  const { leader, body } = await offsetsRequest(cluster, SPU_API_KEY.fetchConsumerOffsets, (writer) =>
    codec.encodeFetchConsumerOffsetsRequest(writer, { filters: { replica: filters.replica ?? null, consumerId: filters.consumer ?? null } }, SPU_VERSION),
  );
  const answer = decodeSpuAnswer(leader, cluster.paths.name, () => codec.decodeFetchConsumerOffsetsResponse(body));
  if (answer.errorCode.code !== "None") throw consumerOffsetError(answer.errorCode, cluster.paths.name, "listing them");
  return answer.consumers
    .map((entry) => ({ consumer: entry.consumerId, topic: entry.replica.topic, partition: entry.replica.partition, offset: entry.offset, modifiedTime: entry.modifiedTime }))
    .sort((a, b) => a.consumer.localeCompare(b.consumer) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Deletes the offset `consumer` committed on partition `replica` (nothing happens when there is none, as in Fluvio). */
export async function deleteConsumerOffset(cluster: RunningCluster, consumer: string, replica: { topic: string; partition: number }): Promise<void> {
  const codec = await loadSpuCodec();
  const { leader, body } = await offsetsRequest(cluster, SPU_API_KEY.deleteConsumerOffset, (writer) =>
    codec.encodeDeleteConsumerOffsetRequest(writer, { replica, consumerId: consumer }),
  );
  const answer = decodeSpuAnswer(leader, cluster.paths.name, () => codec.decodeDeleteConsumerOffsetResponse(body));
  if (answer.errorCode.code !== "None") throw consumerOffsetError(answer.errorCode, cluster.paths.name, `deleting the offset of '${consumer}'`);
}
