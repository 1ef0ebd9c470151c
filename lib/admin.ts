/**
 * The client of the SC's admin API. SPUs come back in Fluvio's JSON shape, so this parser
 * serves any engine that speaks it. A refusal that carries one of the CLI's error codes (a
 * topic that exists, replication beyond the SPUs, an SPU registered twice) keeps that code;
 * others, and answers that are not what was asked for, are ADMIN_ERROR.
 * Every call carries the cluster token (lib/token.ts), read once per command into the
 * `AdminTarget` or `RunningCluster` that callers pass along.
 */
import { ClusterError, type ErrorCode } from "./errors.ts";
import type { ClusterPaths } from "./home.ts";
import type { ResolvedSpec } from "./spec.ts";
import { authorizationHeaders, readToken } from "./token.ts";
import type { PartitionView } from "./engine/control-plane/topic-registry.ts";
import type { SpuObject, TopicObject } from "./engine/control-plane/store.ts";

/** One SPU as the SC reports it. */
export interface SpuReport {
  id: number;
  online: boolean;
}

const REQUEST_TIMEOUT_MS = 2_000;

export function adminUrl(spec: Pick<ResolvedSpec, "host" | "sc">): string {
  return `http://${spec.host}:${spec.sc.publicPort}`;
}

/** Where the SC's admin API answers, and the token it wants: what every admin call takes. */
export interface AdminTarget {
  url: string;
  token: string;
}

/** The admin target of the cluster at `paths`; throws TOKEN_MISSING when its token cannot be read. */
export function adminTarget(spec: Pick<ResolvedSpec, "host" | "sc">, paths: ClusterPaths): AdminTarget {
  return { url: adminUrl(spec), token: readToken(paths) };
}

/** The error for a 401: the daemon holds another token than the file (it was replaced while they ran). */
function unauthorizedError(what: string): ClusterError {
  return new ClusterError("UNAUTHORIZED", `${what} refused the cluster token`, {
    hint: "the token file changed after the cluster started; 'cluster shutdown' then 'cluster resume' restarts it with the file's token",
  });
}

/** Parses Fluvio's SPU list (`[{spec: {spuId}, status: {resolution}}]`), the SC's answer to `GET /spus`; throws ADMIN_ERROR when it is not one. */
export function parseSpuList(body: unknown): SpuReport[] {
  const malformed = (what: string) =>
    new ClusterError("ADMIN_ERROR", `the SC answered GET /spus with ${what}`, {
      hint: "the SC and this CLI may be of different versions; 'cluster logs sc' shows what the SC did",
    });
  if (!Array.isArray(body)) throw malformed(`'${preview(body)}', not a JSON array`);
  return body.map((entry) => {
    const id = entry?.spec?.spuId;
    if (!Number.isInteger(id)) throw malformed(`an SPU entry without an integer spec.spuId: '${preview(entry)}'`);
    return { id, online: entry?.status?.resolution === "Online" };
  });
}

/** `value` as JSON, cut to a length that fits in a message. */
function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

/** Calls the admin API; a connection failure throws SC_UNREACHABLE, an error answer ADMIN_ERROR. */
async function request(
  target: AdminTarget,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<unknown> {
  let response: Response;
  try {
    const headers = { ...init.headers, ...authorizationHeaders(target.token) };
    response = await fetch(target.url + path, { ...init, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    throw new ClusterError("SC_UNREACHABLE", `the SC admin API at ${target.url} does not answer`, {
      hint: "check 'cluster status'; 'cluster resume' restarts a stopped SC",
      cause: error,
    });
  }
  const body = await response.json().catch(() => undefined);
  const call = `${init.method ?? "GET"} ${path}`;
  if (response.status === 401) throw unauthorizedError(`the SC admin API at ${target.url}`);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } })?.error;
    const message = error?.message ?? `HTTP ${response.status}`;
    if (error?.code && PASSED_CODES.has(error.code as ErrorCode)) throw new ClusterError(error.code as ErrorCode, message);
    throw new ClusterError("ADMIN_ERROR", `the SC refused ${call}: ${message}`);
  }
  if (body === undefined) {
    throw new ClusterError("ADMIN_ERROR", `the SC answered ${call} with HTTP ${response.status} and a body that is not JSON`, {
      hint: "'cluster logs sc' shows what the SC did",
    });
  }
  return body;
}

/** Codes of SC refusals that the CLI reports as they are. */
const PASSED_CODES = new Set<ErrorCode>(["TOPIC_EXISTS", "NO_TOPIC", "TOPIC_INVALID", "INSUFFICIENT_SPUS", "SPU_EXISTS", "NO_SPU"]);

/** A cluster whose SC runs, for the verbs that need it (topics, produce, consume). */
export interface RunningCluster {
  paths: ClusterPaths;
  spec: ResolvedSpec;
  admin: AdminTarget;
}

/** Every topic, as the SC stores it. */
export function listTopics(target: AdminTarget): Promise<TopicObject[]> {
  return request(target, "/topics") as Promise<TopicObject[]>;
}

/** Creates a topic; the SC refuses with TOPIC_EXISTS, TOPIC_INVALID or INSUFFICIENT_SPUS. */
export async function createTopic(
  target: AdminTarget,
  topic: { name: string; partitions: number; replication: number },
): Promise<TopicObject & { partitions: PartitionView[] }> {
  return (await request(target, "/topics", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(topic),
  })) as TopicObject & { partitions: PartitionView[] };
}

/** Deletes a topic and its partitions; the SC refuses with NO_TOPIC. */
export async function deleteTopic(target: AdminTarget, name: string): Promise<void> {
  await request(target, `/topics/${encodeURIComponent(name)}`, { method: "DELETE" });
}

/** Every partition (of `topic` when given) with leader, replicas, in-sync set and offsets. */
export function listPartitions(target: AdminTarget, topic?: string): Promise<PartitionView[]> {
  return request(target, topic === undefined ? "/partitions" : `/partitions?topic=${encodeURIComponent(topic)}`) as Promise<PartitionView[]>;
}

/** Where a partition is led: the leader's id and public URL. */
export interface PartitionLeader {
  partition: number;
  leader: number;
  url: string;
}

/** The leader of every partition of `topic`, by partition number; throws NO_TOPIC when there is no such topic. */
export async function topicLeaders(cluster: RunningCluster, topic: string): Promise<PartitionLeader[]> {
  const [partitions, spus] = await Promise.all([listPartitions(cluster.admin, topic), listSpusRaw(cluster.admin)]);
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
 * Calls an SPU's data API and reads its answer with `read`: an error answer becomes a
 * ClusterError with the SPU's code (OFFSET_OUT_OF_RANGE, NOT_LEADER, PRODUCE_TIMEOUT, ...); no
 * answer within `timeoutMs` (a wedged SPU), or a connection failure, SPU_UNREACHABLE, which
 * withLeader retries at the partition's leader of the moment; a refused token UNAUTHORIZED; an
 * answer `read` cannot make sense of (it throws) SPU_ERROR.
 */
export async function spuRequest<T>(
  leader: PartitionLeader,
  path: string,
  options: {
    cluster: RunningCluster;
    method?: string;
    body?: Uint8Array;
    signal?: AbortSignal;
    timeoutMs: number;
    parse: (body: Uint8Array, headers: Headers) => T;
  },
): Promise<T> {
  const { cluster, parse, timeoutMs, ...init } = options;
  const clusterName = cluster.paths.name;
  const call = `${init.method ?? "GET"} ${path.split("?")[0]}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  const unreachable = (cause: unknown) =>
    new ClusterError(
      "SPU_UNREACHABLE",
      timeout.aborted
        ? `SPU ${leader.leader}, the leader of partition ${leader.partition}, did not answer ${call} at ${leader.url} within ${timeoutMs / 1000}s`
        : `SPU ${leader.leader}, the leader of partition ${leader.partition}, does not answer at ${leader.url}`,
      {
        hint: `check 'cluster status --name ${clusterName}'; 'cluster resume --name ${clusterName}' restarts a stopped SPU`,
        cause,
      },
    );
  let response: Response;
  let body: Uint8Array;
  try {
    response = await fetch(leader.url + path, { ...init, signal, headers: authorizationHeaders(cluster.admin.token) });
    // The whole body, under the same timeout: a body cut off is no answer, like no response.
    body = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw unreachable(error);
  }
  if (response.ok) {
    try {
      return parse(body, response.headers);
    } catch (error) {
      throw new ClusterError("SPU_ERROR", `SPU ${leader.leader} answered ${call} with a malformed body: ${(error as Error).message}`, {
        hint: `the SPU and this CLI may be of different versions; 'cluster logs spu-${leader.leader} --name ${clusterName}' shows what it did`,
        cause: error,
      });
    }
  }
  if (response.status === 401) throw unauthorizedError(`SPU ${leader.leader} at ${leader.url}`);
  const error = (parseJson(body) as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code = (SPU_CODES.has(error?.code as ErrorCode) ? error!.code : "LEADER_UNAVAILABLE") as ErrorCode;
  throw new ClusterError(code, error?.message ?? `SPU ${leader.leader} answered HTTP ${response.status}`, {
    hint: `'cluster status --name ${clusterName}' shows each partition's leader and in-sync replicas`,
  });
}

const SPU_CODES = new Set<ErrorCode>(["OFFSET_OUT_OF_RANGE", "NOT_LEADER", "PRODUCE_TIMEOUT", "SC_UNREACHABLE"]);

/** `body` parsed as JSON, or undefined when it is not JSON. */
function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The registered SPUs and whether each is online. */
export async function listSpus(target: AdminTarget): Promise<SpuReport[]> {
  return parseSpuList(await request(target, "/spus"));
}

/** The raw SPU list, exactly as the SC gives it (for `spu list --json`). */
export function listSpusRaw(target: AdminTarget): Promise<unknown> {
  return request(target, "/spus");
}

/** Registers an SPU; the SC refuses with SPU_EXISTS when its id is registered already. */
export async function registerSpu(
  target: AdminTarget,
  spu: { id: number; host: string; publicPort: number; privatePort: number },
): Promise<void> {
  await request(target, "/spus", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spu),
  });
}

/** Unregisters SPU `id`; the SC refuses with NO_SPU when it is not registered. */
export async function unregisterSpu(target: AdminTarget, id: number): Promise<void> {
  await request(target, `/spus/${id}`, { method: "DELETE" });
}
