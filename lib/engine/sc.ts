/**
 * The built-in SC (streaming controller) daemon.
 *
 *   bun lib/engine/sc.ts --metadata DIR --public HOST:PORT --private HOST:PORT
 *
 * Public address: the admin HTTP API (health, SPUs in Fluvio's JSON shape, register and
 * unregister). Private address: SPU connections. An SPU is online exactly while it holds an
 * identified connection here; every SPU starts offline whatever was stored before.
 */
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { encodeFrame, FrameReader } from "./frame.ts";
import { exitUnlessRecorded } from "./adoption.ts";
import { log, parseAddress } from "./log.ts";
import { makeSpuObject, MetadataStore, spuObjectName, type SpuObject } from "./store.ts";

const { values: args } = parseArgs({
  options: {
    "await-record": { type: "boolean" },
    metadata: { type: "string" },
    public: { type: "string" },
    private: { type: "string" },
  },
  strict: true,
});
if (!args.metadata || !args.public || !args.private) {
  throw new Error("usage: sc.ts --metadata DIR --public HOST:PORT --private HOST:PORT");
}
if (args["await-record"]) exitUnlessRecorded("SC");
const publicAddress = parseAddress(args.public);
const privateAddress = parseAddress(args.private);
const store = new MetadataStore(args.metadata);

const spus = new Map<number, SpuObject>(store.list<SpuObject>("SPU").map((spu) => [spu.spec.spuId, spu]));
const connections = new Map<number, Socket>();

function listSpus() {
  return [...spus.values()]
    .sort((a, b) => a.spec.spuId - b.spec.spuId)
    .map((spu) => ({ ...spu, status: { resolution: connections.has(spu.spec.spuId) ? "Online" : "Offline" } }));
}

function jsonResponse(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

function errorResponse(status: number, message: string): Response {
  return jsonResponse({ error: { message } }, status);
}

async function registerSpu(request: Request): Promise<Response> {
  const body = (await request.json().catch(() => undefined)) as
    | { id?: unknown; host?: unknown; publicPort?: unknown; privatePort?: unknown }
    | undefined;
  const id = body?.id;
  if (!Number.isInteger(id) || !Number.isInteger(body?.publicPort) || !Number.isInteger(body?.privatePort)) {
    return errorResponse(400, "expected {id, host, publicPort, privatePort} with integer id and ports");
  }
  if (spus.has(id as number)) return errorResponse(409, `SPU ${id} is already registered`);
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
  if (!spus.has(id)) return errorResponse(404, `SPU ${id} is not registered`);
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
    "/spus": { GET: () => jsonResponse(listSpus()), POST: registerSpu },
    "/spus/:id": { DELETE: (request) => unregisterSpu(Number(request.params.id)) },
  },
  fetch: () => errorResponse(404, "no such endpoint"),
});

/** Handles one SPU connection: the first frame must identify a registered SPU. */
function acceptSpu(socket: Socket): void {
  const reader = new FrameReader();
  let spuId: number | undefined;
  socket.setNoDelay(true);
  socket.on("data", (chunk) => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (error) {
      log(`dropped a connection from ${socket.remoteAddress}: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (spuId !== undefined || frame.header.type !== "hello") continue;
      const id = Number(frame.header.spuId);
      const refusal = !spus.has(id)
        ? `SPU ${id} is not registered`
        : connections.has(id)
          ? `SPU ${id} is already connected`
          : undefined;
      if (refusal) {
        log(`refused a connection claiming SPU ${id}: ${refusal}`);
        socket.end(encodeFrame({ type: "refused", reason: refusal }));
        return;
      }
      spuId = id;
      connections.set(id, socket);
      socket.write(encodeFrame({ type: "accepted" }));
      log(`SPU ${id} online`);
    }
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    if (spuId !== undefined && connections.get(spuId) === socket) {
      connections.delete(spuId);
      log(`SPU ${spuId} offline`);
    }
  });
}

const spuListener = createServer(acceptSpu);
spuListener.on("error", (error) => {
  log(`cannot listen on ${args.private}: ${error.message}`);
  process.exit(1);
});
spuListener.listen({ host: privateAddress.host, port: privateAddress.port, exclusive: true }, () => {
  log(`SC ready: admin http://${args.public}, SPUs ${args.private}, ${spus.size} SPU(s) registered`);
});

function stop(signal: string): void {
  log(`SC stopping on ${signal}`);
  admin.stop(true);
  spuListener.close();
  for (const socket of connections.values()) socket.destroy();
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
