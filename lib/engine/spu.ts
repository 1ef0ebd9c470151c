/**
 * The built-in SPU (streaming processing unit) daemon.
 *
 *   bun lib/engine/spu.ts --token-file FILE --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR
 *
 * It holds one connection to the SC's private address, identifying itself by id, and
 * reconnects with a short backoff whenever the SC is away (so it may start before the SC).
 * Over it the SC assigns replicas (replica-manager.ts). The public address serves health,
 * produce and consume over HTTP; the private address serves followers' fetches (protocol.ts).
 * SIGTERM closes everything (logs fsynced) and exits 0.
 *
 * The cluster token, read from FILE (lib/token.ts), opens each link: this SPU's `hello` to the
 * SC and to the leaders it follows carries it, a follower connection here must begin with a
 * `hello` carrying it, and produce and consume want it as a bearer token (health does not).
 * Produce and consume are guarded too because they are the cluster's data: a local user who
 * cannot read the cluster directory must be able to neither read nor write records.
 *
 *   POST /produce/:topic/:partition   body: values (records.ts); answers {baseOffset, lastOffset}
 *                                     once every in-sync replica has them (acks=all)
 *   GET  /consume/:topic/:partition?offset=N&maxBytes=B&waitMs=W
 *                                     body: log frames below the high watermark; headers
 *                                     x-next-offset and x-high-watermark
 */
import { mkdirSync } from "node:fs";
import { encodeFrame, FrameReader } from "./frame.ts";
import { exitUnlessRecorded } from "./adoption.ts";
import { connectLink, listenOrExit, type Link } from "./link.ts";
import { parseAddress, parseDaemonArgs } from "./daemon-args.ts";
import { log } from "./log.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  HELLO_TIMEOUT_MS,
  type FetchMessage,
  type HelloMessage,
  type RecordsMessage,
  type RefusedMessage,
  type ReplicasMessage,
} from "./protocol.ts";
import { ReplicaError } from "./replica.ts";
import { ReplicaManager } from "./replica-manager.ts";
import { decodeValues } from "./records.ts";
import { readTokenFile, tokenMatches } from "../token.ts";
import { authorized } from "./auth.ts";

const args = parseDaemonArgs(
  process.argv.slice(2),
  { options: ["token-file", "id", "public", "private", "sc", "data"], flags: ["await-record"] },
  "usage: spu.ts [--await-record] --token-file FILE --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR",
);
if (args["await-record"]) exitUnlessRecorded(`SPU ${args.id}`);
const token = readTokenFile(args["token-file"]);
const spuId = Number(args.id);
const publicAddress = parseAddress(args.public);
const privateAddress = parseAddress(args.private);
const scAddress = parseAddress(args.sc);
mkdirSync(args.data, { recursive: true, mode: 0o700 });

const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 250;
const DEFAULT_CONSUME_BYTES = 1024 * 1024;
const MAX_CONSUME_BYTES = 16 * 1024 * 1024;
const MAX_WAIT_MS = 5_000;

let scSocket: Link | undefined;
let accepted = false;
let stopping = false;
let retryMs = FIRST_RETRY_MS;
let lastRefusal = "";

const replicas = new ReplicaManager({
  dataDir: args.data,
  selfId: spuId,
  token,
  send: (header) => {
    if (accepted) scSocket?.write(encodeFrame(header));
  },
  scConnected: () => accepted,
});

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

function replicaErrorResponse(error: unknown): Response {
  if (error instanceof ReplicaError) return errorResponse(error.status, error.code, error.message);
  log(`request failed: ${(error as Error).stack ?? error}`);
  return errorResponse(500, "SPU_ERROR", (error as Error).message);
}

function findReplica(params: { topic: string; partition: string }) {
  const topic = decodeURIComponent(params.topic);
  const replica = replicas.get(topic, Number(params.partition));
  if (!replica) {
    throw new ReplicaError("NOT_LEADER", 404, `SPU ${spuId} holds no replica of partition '${topic}-${params.partition}'`);
  }
  return replica;
}

async function produce(request: Bun.BunRequest<"/produce/:topic/:partition">): Promise<Response> {
  try {
    const replica = findReplica(request.params);
    let values;
    try {
      values = decodeValues(new Uint8Array(await request.arrayBuffer()));
    } catch (error) {
      return errorResponse(400, "BAD_REQUEST", `malformed produce body: ${(error as Error).message}`);
    }
    if (values.length === 0) return errorResponse(400, "BAD_REQUEST", "a produce request needs at least one record");
    return Response.json(await replica.produce(values));
  } catch (error) {
    return replicaErrorResponse(error);
  }
}

/** A non-negative integer query parameter, `fallback` when absent, capped at `max`. */
function queryNumber(url: URL, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = url.searchParams.get(name);
  const value = text === null ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 0) throw new ReplicaError("BAD_REQUEST", 400, `${name} must be a non-negative integer, not '${text}'`);
  return Math.min(value, max);
}

async function consume(request: Bun.BunRequest<"/consume/:topic/:partition">): Promise<Response> {
  try {
    const replica = findReplica(request.params);
    const url = new URL(request.url);
    const offset = queryNumber(url, "offset", replica.highWatermark);
    const result = await replica.consume(offset, {
      maxBytes: queryNumber(url, "maxBytes", DEFAULT_CONSUME_BYTES, MAX_CONSUME_BYTES),
      waitMs: queryNumber(url, "waitMs", 0, MAX_WAIT_MS),
    });
    return new Response(result.bytes, {
      headers: {
        "content-type": "application/octet-stream",
        "x-next-offset": String(result.nextOffset),
        "x-high-watermark": String(replica.highWatermark),
      },
    });
  } catch (error) {
    return replicaErrorResponse(error);
  }
}

const server = Bun.serve({
  hostname: publicAddress.host,
  port: publicAddress.port,
  // NOTE: a produce waits for its followers for up to PRODUCE_TIMEOUT_MS; the connection must outlive it.
  idleTimeout: 60,
  routes: {
    "/health": () => Response.json({ status: "ok", spuId, pid: process.pid, scConnected: accepted }),
    "/produce/:topic/:partition": { POST: authorized(token, produce) },
    "/consume/:topic/:partition": { GET: authorized(token, consume) },
  },
  fetch: authorized(token, () => errorResponse(404, "NO_ENDPOINT", "no such endpoint")),
});

/** Why the first frame of a follower connection is refused, or undefined for a `hello` with the cluster token. */
function refuseFollower(header: { type: string; [key: string]: unknown }): string | undefined {
  if (header.type !== "hello") return `its first frame is '${header.type}', not 'hello'`;
  const hello = header as unknown as HelloMessage;
  if (!tokenMatches(hello.token, token)) return `it claimed SPU ${Number(hello.spuId)} without the cluster token`;
  return undefined;
}

/** Serves one follower connection: after its hello, fetches answered in order, one at a time. */
function acceptFollower(socket: Link): void {
  const reader = new FrameReader();
  const queue: FetchMessage[] = [];
  let follower: { id: number; topic: string; partition: number } | undefined;
  let greeted = false;
  let refused = false;
  let busy = false;

  // Never rejects: a fetch that fails drops the connection (the follower reconnects and asks
  // again), so neither `busy` stays set nor the daemon meets an unhandled rejection.
  const next = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && !socket.destroyed) {
        const request = queue.shift()!;
        if (!follower) {
          follower = { id: request.replicaId, topic: request.topic, partition: request.partition };
          replicas.get(follower.topic, follower.partition)?.followerConnected(follower.id);
        }
        const replica = replicas.get(request.topic, request.partition);
        const answer = replica
          ? await replica.fetch(request)
          : { header: { type: "records", offset: request.offset, endOffset: 0, highWatermark: 0, epochs: [], error: "NOT_LEADER" } as RecordsMessage };
        if (!socket.destroyed) socket.write(encodeFrame(answer.header, "body" in answer ? answer.body : undefined));
      }
    } catch (error) {
      const who = follower ? `SPU ${follower.id} (for '${follower.topic}-${follower.partition}')` : socket.remoteAddress;
      log(`dropped the follower connection of ${who}: a fetch failed: ${(error as Error).stack ?? error}`);
      queue.length = 0;
      socket.destroy();
    } finally {
      busy = false;
    }
  };

  // A connection that never completes its hello (junk, a frame cut short) is not held open.
  socket.setTimeout(HELLO_TIMEOUT_MS);
  socket.on("timeout", () => {
    log(`a follower connection from ${socket.remoteAddress} sent no hello for ${HELLO_TIMEOUT_MS} ms; closing it`);
    socket.destroy();
  });
  socket.on("data", (chunk: Buffer) => {
    // Nothing more a refused connection sends is read.
    if (refused) return;
    try {
      for (const frame of reader.push(chunk)) {
        if (!greeted) {
          const refusal = refuseFollower(frame.header);
          if (refusal) {
            log(`refused a follower connection from ${socket.remoteAddress}: ${refusal}`);
            refused = true;
            socket.end(encodeFrame<RefusedMessage>({ type: "refused", reason: refusal }));
            return;
          }
          greeted = true;
          socket.setTimeout(0);
        } else if (frame.header.type === "fetch") {
          queue.push(frame.header as unknown as FetchMessage);
        }
      }
    } catch (error) {
      log(`dropped a follower connection from ${socket.remoteAddress}: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    void next();
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    if (follower) replicas.get(follower.topic, follower.partition)?.followerDisconnected(follower.id);
  });
}

const peerListener = listenOrExit(privateAddress, acceptFollower);

function connectToSc(): void {
  if (stopping) return;
  const socket = connectLink(scAddress);
  const reader = new FrameReader();
  scSocket = socket;
  socket.on("connect", () => socket.write(encodeFrame<HelloMessage>({ type: "hello", spuId, token })));
  socket.on("data", (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) {
      if (frame.header.type === "replicas") {
        replicas.apply(frame.header as unknown as ReplicasMessage);
      } else if (frame.header.type === "accepted") {
        accepted = true;
        retryMs = FIRST_RETRY_MS;
        lastRefusal = "";
        log(`SPU ${spuId} connected to SC ${args.sc}`);
      } else if (frame.header.type === "refused") {
        // Logged once per reason: an unregistered SPU retries until it is registered or stopped.
        if (frame.header.reason !== lastRefusal) log(`SC ${args.sc} refused SPU ${spuId}: ${frame.header.reason}`);
        lastRefusal = String(frame.header.reason);
        retryMs = MAX_RETRY_MS;
      }
    }
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    const wasAccepted = accepted;
    accepted = false;
    if (stopping) return;
    if (wasAccepted) log(`SPU ${spuId} lost SC ${args.sc}; reconnecting`);
    setTimeout(connectToSc, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  });
}

log(`SPU ${spuId} starting: public ${args.public}, private ${args.private}, SC ${args.sc}, data ${args.data}`);
connectToSc();
setInterval(() => {
  if (accepted) scSocket?.write(encodeFrame({ type: "heartbeat" }));
}, HEARTBEAT_INTERVAL_MS);

function stop(signal: string): void {
  stopping = true;
  log(`SPU ${spuId} stopping on ${signal}`);
  scSocket?.destroy();
  server.stop(true);
  peerListener.stop(true);
  replicas.closeAll();
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
