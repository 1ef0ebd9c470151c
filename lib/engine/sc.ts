/**
 * The built-in SC (streaming controller) daemon.
 *
 *   bun lib/engine/sc.ts --token-file FILE --metadata DIR --public HOST:PORT --private HOST:PORT
 *
 * Public address: the admin HTTP API (health, SPUs in Fluvio's JSON shape, register and
 * unregister, topics and partitions). Private address: SPU connections. Both need the cluster
 * token read from FILE (lib/token.ts): every admin route but `GET /health` wants it as a bearer
 * token (401 UNAUTHORIZED otherwise), and an SPU's `hello` must carry it. An SPU is online
 * exactly while it holds an identified connection here; every SPU starts offline whatever was
 * stored before. Over that connection the SC pushes each SPU its full replica assignment (on
 * connect and after every change) and hears back offsets and in-sync set changes (protocol.ts).
 *
 * Leader failover: when the SPU leading a partition goes offline (its connection closes, or
 * sends nothing for SESSION_TIMEOUT_MS), the SC elects another in-sync replica (election.ts),
 * persists the new leader and epoch, and pushes the assignments at once. Until every registered
 * SPU has connected, or ELECTION_GRACE_MS after the SC starts, it elects nothing, so SPUs
 * reconnecting to a restarted SC keep their leaderships; after that, an SPU that never came
 * back is replaced like one that left.
 */
import { encodeFrame, FrameReader } from "./frame.ts";
import { exitUnlessRecorded } from "./adoption.ts";
import { listenOrExit, type Link } from "./link.ts";
import { parseAddress, parseDaemonArgs } from "./daemon-args.ts";
import { log } from "./log.ts";
import {
  type HelloMessage,
  type IsrMessage,
  type RefusedMessage,
  type ReplicasMessage,
  type ReportMessage,
} from "./protocol.ts";
import { makeSpuObject, MetadataStore, spuObjectName, type SpuObject } from "./store.ts";
import { AdminRefusal, TopicRegistry } from "./topic-registry.ts";
import { readTokenFile, tokenMatches } from "../token.ts";
import { authorized } from "./auth.ts";

const args = parseDaemonArgs(
  process.argv.slice(2),
  { options: ["token-file", "metadata", "public", "private"], flags: ["await-record"] },
  "usage: sc.ts [--await-record] --token-file FILE --metadata DIR --public HOST:PORT --private HOST:PORT",
);
if (args["await-record"]) exitUnlessRecorded("SC");
const token = readTokenFile(args["token-file"]);
const publicAddress = parseAddress(args.public);
const privateAddress = parseAddress(args.private);
const store = new MetadataStore(args.metadata);

const spus = new Map<number, SpuObject>(store.listSpus().map((spu) => [spu.spec.spuId, spu]));
const connections = new Map<number, Link>();
const topics = new TopicRegistry(store);

/** An SPU connection silent for this long (it heartbeats every HEARTBEAT_INTERVAL_MS) is closed: the SPU is offline. */
const SESSION_TIMEOUT_MS = 3_000;
/** How long after start the SC waits for SPUs to reconnect before it replaces missing leaders. */
const ELECTION_GRACE_MS = 3_000;
let electionsOpen = false;
/** An election the SC could not record (a full disk) is tried again this often. */
const ELECTION_RETRY_MS = 1_000;
let electionRetry: ReturnType<typeof setTimeout> | undefined;
/** Partitions last logged as leaderless, so each is logged once per outage. */
const loggedLeaderless = new Set<string>();

function listSpus() {
  return [...spus.values()]
    .sort((a, b) => a.spec.spuId - b.spec.spuId)
    .map((spu) => ({ ...spu, status: { resolution: connections.has(spu.spec.spuId) ? "Online" : "Offline" } }));
}

function jsonResponse(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

function errorResponse(status: number, message: string, code?: string): Response {
  return jsonResponse({ error: { code, message } }, status);
}

function refusalResponse(error: unknown): Response {
  if (!(error instanceof AdminRefusal)) throw error;
  return errorResponse(error.status, error.message, error.code);
}

function onlineSpuIds(): number[] {
  return [...connections.keys()].filter((id) => spus.has(id)).sort((a, b) => a - b);
}

/** Sends SPU `id` (when connected) the full set of replicas it holds. */
function pushAssignment(id: number): void {
  const message: ReplicasMessage = {
    type: "replicas",
    spus: [...spus.values()].map((spu) => ({
      id: spu.spec.spuId,
      host: spu.spec.privateEndpoint.host,
      privatePort: spu.spec.privateEndpoint.port,
    })),
    replicas: topics.assignmentsFor(id),
  };
  connections.get(id)?.write(encodeFrame(message));
}

function pushAssignments(ids: Iterable<number> = connections.keys()): void {
  for (const id of ids) pushAssignment(id);
}

/** Elects a leader for every partition whose leader is offline (after the start grace), then tells its replicas. */
function electLeaders(trigger: string): void {
  if (!electionsOpen) return;
  const { elected, leaderless } = topics.electLeaders((id) => connections.has(id));
  const told = new Set<number>();
  for (const partition of elected) {
    const { leader, leaderEpoch, isr } = partition.leaderAndIsr;
    log(`elected SPU ${leader} leader of '${partition.name}' at epoch ${leaderEpoch}, in-sync [${isr.join(", ")}] (${trigger})`);
    loggedLeaderless.delete(partition.name);
    for (const id of partition.spec.replicas) told.add(id);
  }
  const stillLeaderless = new Set(leaderless.map((entry) => entry.name));
  for (const name of loggedLeaderless) if (!stillLeaderless.has(name)) loggedLeaderless.delete(name);
  for (const { name, reason } of leaderless) {
    if (loggedLeaderless.has(name)) continue;
    loggedLeaderless.add(name);
    log(`partition '${name}' has no leader: ${reason}; it waits for an in-sync replica to return (${trigger})`);
  }
  pushAssignments([...told].filter((id) => connections.has(id)));
  if (leaderless.some((entry) => entry.unrecorded) && !electionRetry) {
    electionRetry = setTimeout(() => {
      electionRetry = undefined;
      electLeaders("retrying an election the SC could not record");
    }, ELECTION_RETRY_MS);
  }
}

async function createTopic(request: Request): Promise<Response> {
  const body = (await request.json().catch(() => undefined)) as { name?: unknown; partitions?: unknown; replication?: unknown } | undefined;
  try {
    const topic = topics.create({ ...body, name: body?.name }, onlineSpuIds());
    log(`created topic '${topic.name}': ${topic.spec.partitions} partition(s), replication ${topic.spec.replicationFactor}`);
    pushAssignments();
    return jsonResponse({ ...topic, partitions: topics.listPartitions((id) => connections.has(id), topic.name) }, 201);
  } catch (error) {
    return refusalResponse(error);
  }
}

function deleteTopic(name: string): Response {
  try {
    topics.delete(name);
    log(`deleted topic '${name}'`);
    pushAssignments();
    return jsonResponse({ deleted: name });
  } catch (error) {
    return refusalResponse(error);
  }
}

function listPartitions(request: Request): Response {
  const topic = new URL(request.url).searchParams.get("topic") ?? undefined;
  return jsonResponse(topics.listPartitions((id) => connections.has(id), topic));
}

function onSpuMessage(id: number, header: { type: string; [key: string]: unknown }): void {
  if (header.type === "report") {
    topics.recordReport(id, (header as unknown as ReportMessage).replicas ?? []);
  } else if (header.type === "isr") {
    const message = header as unknown as IsrMessage;
    const result = topics.changeIsr(id, message);
    if ("refused" in result) {
      log(`refused an in-sync set change from SPU ${id}: ${result.refused}`);
      // The leader learns the in-sync set that stands from a fresh assignment.
      pushAssignment(id);
      return;
    }
    log(`in-sync set of '${message.topic}-${message.partition}' is now [${message.isr.join(", ")}] (asked by leader SPU ${id})`);
    pushAssignments(result.changed.filter((replica) => connections.has(replica)));
  }
}

async function registerSpu(request: Request): Promise<Response> {
  const body = (await request.json().catch(() => undefined)) as
    | { id?: unknown; host?: unknown; publicPort?: unknown; privatePort?: unknown }
    | undefined;
  const id = body?.id;
  if (!Number.isInteger(id) || !Number.isInteger(body?.publicPort) || !Number.isInteger(body?.privatePort)) {
    return errorResponse(400, "expected {id, host, publicPort, privatePort} with integer id and ports");
  }
  if (spus.has(id as number)) return errorResponse(409, `SPU ${id} is already registered`, "SPU_EXISTS");
  const spu = makeSpuObject(id as number, typeof body!.host === "string" ? body!.host : publicAddress.host, {
    publicPort: body!.publicPort as number,
    privatePort: body!.privatePort as number,
  });
  store.put("SPU", spu.name, spu);
  spus.set(id as number, spu);
  log(`registered SPU ${id}`);
  return jsonResponse(spu, 201);
}

function unregisterSpu(id: number): Response {
  if (!spus.has(id)) return errorResponse(404, `SPU ${id} is not registered`, "NO_SPU");
  store.remove("SPU", spuObjectName(id));
  spus.delete(id);
  connections.get(id)?.destroy();
  log(`unregistered SPU ${id}`);
  return jsonResponse({ unregistered: id });
}

const admin = Bun.serve({
  hostname: publicAddress.host,
  port: publicAddress.port,
  routes: {
    "/health": () => jsonResponse({ status: "ok", pid: process.pid }),
    "/spus": { GET: authorized(token, () => jsonResponse(listSpus())), POST: authorized(token, registerSpu) },
    "/spus/:id": { DELETE: authorized(token, (request: Bun.BunRequest<"/spus/:id">) => unregisterSpu(Number(request.params.id))) },
    "/topics": { GET: authorized(token, () => jsonResponse(topics.listTopics())), POST: authorized(token, createTopic) },
    "/topics/:name": { DELETE: authorized(token, (request: Bun.BunRequest<"/topics/:name">) => deleteTopic(decodeURIComponent(request.params.name))) },
    "/partitions": { GET: authorized(token, listPartitions) },
  },
  // An unknown path says only that it is unknown, and only to a caller with the token.
  fetch: authorized(token, () => errorResponse(404, "no such endpoint")),
});

/** Why the first frame of an SPU connection is refused, or undefined for a `hello` with the token from a registered SPU not yet connected. */
function refuseHello(header: { type: string; [key: string]: unknown }): string | undefined {
  if (header.type !== "hello") return `its first frame is '${header.type}', not 'hello'`;
  const hello = header as unknown as HelloMessage;
  const id = Number(hello.spuId);
  if (!tokenMatches(hello.token, token)) return `it claimed SPU ${id} without the cluster token`;
  if (!spus.has(id)) return `SPU ${id} is not registered`;
  if (connections.has(id)) return `SPU ${id} is already connected`;
  return undefined;
}

/** Handles one SPU connection: the first frame must be a `hello` with the cluster token, from a registered SPU. */
function acceptSpu(socket: Link): void {
  const reader = new FrameReader();
  let spuId: number | undefined;
  let refused = false;
  // Also closes a connection that never says hello.
  socket.setTimeout(SESSION_TIMEOUT_MS);
  socket.on("data", (chunk: Buffer) => {
    // Nothing more a refused connection sends is read.
    if (refused) return;
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (error) {
      log(`dropped a connection from ${socket.remoteAddress}: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (spuId !== undefined) {
        onSpuMessage(spuId, frame.header);
        continue;
      }
      const refusal = refuseHello(frame.header);
      if (refusal) {
        log(`refused a connection from ${socket.remoteAddress}: ${refusal}`);
        refused = true;
        socket.end(encodeFrame<RefusedMessage>({ type: "refused", reason: refusal }));
        return;
      }
      const id = Number(frame.header.spuId);
      spuId = id;
      connections.set(id, socket);
      socket.write(encodeFrame({ type: "accepted" }));
      log(`SPU ${id} online`);
      pushAssignment(id);
      if (!electionsOpen && [...spus.keys()].every((registered) => connections.has(registered))) {
        electionsOpen = true;
        log("every registered SPU is online: leader elections are on");
      }
      electLeaders(`SPU ${id} came online`);
    }
  });
  socket.on("timeout", () => {
    log(`${spuId === undefined ? `a connection from ${socket.remoteAddress}` : `SPU ${spuId}`} sent nothing for ${SESSION_TIMEOUT_MS} ms; closing it`);
    socket.destroy();
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    if (spuId !== undefined && connections.get(spuId) === socket) {
      connections.delete(spuId);
      topics.forgetReports(spuId);
      log(`SPU ${spuId} offline`);
      electLeaders(`SPU ${spuId} went offline`);
    }
  });
}

const spuListener = listenOrExit(privateAddress, acceptSpu);
log(`SC ready: admin http://${args.public}, SPUs ${args.private}, ${spus.size} SPU(s) registered, ${topics.topicCount} topic(s)`);
setTimeout(() => {
  if (electionsOpen) return;
  electionsOpen = true;
  electLeaders(`${ELECTION_GRACE_MS} ms after the SC started`);
}, ELECTION_GRACE_MS);

function stop(signal: string): void {
  log(`SC stopping on ${signal}`);
  // The SPUs' connections close below: that is the SC leaving, not the SPUs.
  electionsOpen = false;
  admin.stop(true);
  spuListener.stop(true);
  for (const socket of connections.values()) socket.destroy();
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
