/**
 * The client of the SC's admin API. SPUs come back in Fluvio's JSON shape, so this parser
 * serves any engine that speaks it. A refusal that carries one of the CLI's error codes (a
 * topic that exists, replication beyond the SPUs) keeps that code; others are ADMIN_ERROR.
 */
import { ClusterError, type ErrorCode } from "./errors.ts";
import { clusterExists, locateCluster, type ClusterPaths } from "./home.ts";
import { isAlive } from "./procs.ts";
import type { ResolvedSpec } from "./spec.ts";
import { readSavedSpec, readState } from "./state.ts";
import type { PartitionView } from "./engine/topic-registry.ts";
import type { SpuObject, TopicObject } from "./engine/store.ts";

/** One SPU as the SC reports it. */
export interface SpuReport {
  id: number;
  online: boolean;
}

const REQUEST_TIMEOUT_MS = 2_000;

export function adminUrl(spec: Pick<ResolvedSpec, "host" | "sc">): string {
  return `http://${spec.host}:${spec.sc.publicPort}`;
}

/** Parses Fluvio's SPU list (`[{spec: {spuId}, status: {resolution}}]`). */
export function parseSpuList(body: unknown): SpuReport[] {
  if (!Array.isArray(body)) throw new Error("the SPU list is not a JSON array");
  return body.map((entry) => {
    const id = entry?.spec?.spuId;
    if (!Number.isInteger(id)) throw new Error(`an SPU entry has no integer spec.spuId: ${JSON.stringify(entry)}`);
    return { id, online: entry?.status?.resolution === "Online" };
  });
}

/** Calls the admin API; a connection failure throws SC_UNREACHABLE, an error answer ADMIN_ERROR. */
async function request(baseUrl: string, path: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(baseUrl + path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    throw new ClusterError("SC_UNREACHABLE", `the SC admin API at ${baseUrl} does not answer`, {
      hint: "check 'cluster status'; 'cluster resume' restarts a stopped SC",
      cause: error,
    });
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } })?.error;
    const message = error?.message ?? `HTTP ${response.status}`;
    if (error?.code && PASSED_CODES.has(error.code as ErrorCode)) throw new ClusterError(error.code as ErrorCode, message);
    throw new ClusterError("ADMIN_ERROR", `the SC refused ${init.method ?? "GET"} ${path}: ${message}`);
  }
  return body;
}

/** Codes of SC refusals that the CLI reports as they are. */
const PASSED_CODES = new Set<ErrorCode>(["TOPIC_EXISTS", "NO_TOPIC", "TOPIC_INVALID", "INSUFFICIENT_SPUS"]);

/** A cluster whose SC runs, for the verbs that need it (topics, produce, consume). */
export interface RunningCluster {
  paths: ClusterPaths;
  spec: ResolvedSpec;
  adminUrl: string;
}

/** The cluster `--home`/`--name` select, if its SC runs; throws NO_CLUSTER or NOT_RUNNING. */
export function locateRunningCluster(options: { home?: string; name?: string }): RunningCluster {
  const paths = locateCluster(options);
  const spec = clusterExists(paths) ? readSavedSpec(paths) : undefined;
  if (!spec) {
    throw new ClusterError("NO_CLUSTER", `no cluster '${paths.name}' in '${paths.home}'`, {
      hint: `run 'cluster create --name ${paths.name}' to make one`,
    });
  }
  const sc = readState(paths).processes.find((entry) => entry.role === "sc");
  if (!sc || !isAlive(sc)) {
    throw new ClusterError("NOT_RUNNING", `cluster '${paths.name}' is not running`, {
      hint: `run 'cluster resume --name ${paths.name}' to start it`,
    });
  }
  return { paths, spec, adminUrl: adminUrl(spec) };
}

/** Every topic, as the SC stores it. */
export function listTopics(baseUrl: string): Promise<TopicObject[]> {
  return request(baseUrl, "/topics") as Promise<TopicObject[]>;
}

/** Creates a topic; the SC refuses with TOPIC_EXISTS, TOPIC_INVALID or INSUFFICIENT_SPUS. */
export async function createTopic(
  baseUrl: string,
  topic: { name: string; partitions: number; replication: number },
): Promise<TopicObject & { partitions: PartitionView[] }> {
  return (await request(baseUrl, "/topics", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(topic),
  })) as TopicObject & { partitions: PartitionView[] };
}

/** Deletes a topic and its partitions; the SC refuses with NO_TOPIC. */
export async function deleteTopic(baseUrl: string, name: string): Promise<void> {
  await request(baseUrl, `/topics/${encodeURIComponent(name)}`, { method: "DELETE" });
}

/** Every partition (of `topic` when given) with leader, replicas, in-sync set and offsets. */
export function listPartitions(baseUrl: string, topic?: string): Promise<PartitionView[]> {
  return request(baseUrl, topic === undefined ? "/partitions" : `/partitions?topic=${encodeURIComponent(topic)}`) as Promise<PartitionView[]>;
}

/** Where a partition is led: the leader's id and public URL. */
export interface PartitionLeader {
  partition: number;
  leader: number;
  url: string;
}

/** The leader of every partition of `topic`, by partition number; throws NO_TOPIC when there is no such topic. */
export async function topicLeaders(cluster: RunningCluster, topic: string): Promise<PartitionLeader[]> {
  const [partitions, spus] = await Promise.all([listPartitions(cluster.adminUrl, topic), listSpusRaw(cluster.adminUrl)]);
  const name = cluster.paths.name;
  if (partitions.length === 0) {
    throw new ClusterError("NO_TOPIC", `topic '${topic}' does not exist in cluster '${name}'`, {
      hint: `run 'cluster topic create ${topic} --name ${name}', or 'cluster topic list --name ${name}' to see the topics`,
    });
  }
  return partitions.map((view) => {
    const spu = (spus as SpuObject[]).find((entry) => entry.spec.spuId === view.leader);
    const host = spu?.spec.publicEndpoint.ingress[0]?.hostname ?? cluster.spec.host;
    const port = spu?.spec.publicEndpoint.port ?? cluster.spec.spus.find((entry) => entry.id === view.leader)?.publicPort;
    return { partition: view.partition, leader: view.leader, url: `http://${host}:${port}` };
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

/**
 * Calls an SPU's data API: an error answer becomes a ClusterError with the SPU's code
 * (OFFSET_OUT_OF_RANGE, NOT_LEADER, PRODUCE_TIMEOUT, ...), a connection failure SPU_UNREACHABLE.
 */
export async function spuRequest(
  leader: PartitionLeader,
  path: string,
  options: { clusterName: string; method?: string; body?: Uint8Array; signal?: AbortSignal },
): Promise<Response> {
  const { clusterName, ...init } = options;
  let response: Response;
  try {
    response = await fetch(leader.url + path, init);
  } catch (error) {
    throw new ClusterError("SPU_UNREACHABLE", `SPU ${leader.leader}, the leader of partition ${leader.partition}, does not answer at ${leader.url}`, {
      hint: `check 'cluster status --name ${clusterName}'; 'cluster resume --name ${clusterName}' restarts a stopped SPU`,
      cause: error,
    });
  }
  if (response.ok) return response;
  const error = ((await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } })?.error;
  const code = (SPU_CODES.has(error?.code as ErrorCode) ? error!.code : "LEADER_UNAVAILABLE") as ErrorCode;
  throw new ClusterError(code, error?.message ?? `SPU ${leader.leader} answered HTTP ${response.status}`, {
    hint: `'cluster status --name ${clusterName}' shows each partition's leader and in-sync replicas`,
  });
}

const SPU_CODES = new Set<ErrorCode>(["OFFSET_OUT_OF_RANGE", "NOT_LEADER", "PRODUCE_TIMEOUT", "SC_UNREACHABLE"]);
export async function listSpus(baseUrl: string): Promise<SpuReport[]> {
  return parseSpuList(await request(baseUrl, "/spus"));
}

/** The raw SPU list, exactly as the SC gives it (for `spu list --json`). */
export function listSpusRaw(baseUrl: string): Promise<unknown> {
  return request(baseUrl, "/spus");
}

export async function registerSpu(
  baseUrl: string,
  spu: { id: number; host: string; publicPort: number; privatePort: number },
): Promise<void> {
  await request(baseUrl, "/spus", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spu),
  });
}

export async function unregisterSpu(baseUrl: string, id: number): Promise<void> {
  await request(baseUrl, `/spus/${id}`, { method: "DELETE" });
}
