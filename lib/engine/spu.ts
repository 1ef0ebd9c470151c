/**
 * The built-in SPU (streaming processing unit) daemon.
 *
 *   bun lib/engine/spu.ts --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR
 *
 * It holds one connection to the SC's private address, identifying itself by id, and
 * reconnects with a short backoff whenever the SC is away (so it may start before the SC).
 * Its public address serves health; SIGTERM closes everything and exits 0.
 */
import { mkdirSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { encodeFrame, FrameReader } from "./frame.ts";
import { exitUnlessRecorded } from "./adoption.ts";
import { log, parseAddress } from "./log.ts";

const { values: args } = parseArgs({
  options: {
    "await-record": { type: "boolean" },
    id: { type: "string" },
    public: { type: "string" },
    private: { type: "string" },
    sc: { type: "string" },
    data: { type: "string" },
  },
  strict: true,
});
if (!args.id || !args.public || !args.private || !args.sc || !args.data) {
  throw new Error("usage: spu.ts --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR");
}
if (args["await-record"]) exitUnlessRecorded(`SPU ${args.id}`);
const spuId = Number(args.id);
const publicAddress = parseAddress(args.public);
const privateAddress = parseAddress(args.private);
const scAddress = parseAddress(args.sc);
mkdirSync(args.data, { recursive: true, mode: 0o700 });

const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 250;

let scSocket: Socket | undefined;
let accepted = false;
let stopping = false;
let retryMs = FIRST_RETRY_MS;
let lastRefusal = "";

const health = Bun.serve({
  hostname: publicAddress.host,
  port: publicAddress.port,
  routes: {
    "/health": () => Response.json({ status: "ok", spuId, pid: process.pid, scConnected: accepted }),
  },
  fetch: () => Response.json({ error: { message: "no such endpoint" } }, { status: 404 }),
});

// Bound now so the port is ours from the start; replication between SPUs arrives here.
const peerListener = createServer((socket) => socket.destroy());
peerListener.on("error", (error) => {
  log(`cannot listen on ${args.private}: ${error.message}`);
  process.exit(1);
});
peerListener.listen({ host: privateAddress.host, port: privateAddress.port, exclusive: true });

function connectToSc(): void {
  if (stopping) return;
  const socket = connect({ host: scAddress.host, port: scAddress.port });
  const reader = new FrameReader();
  scSocket = socket;
  socket.setNoDelay(true);
  socket.on("connect", () => socket.write(encodeFrame({ type: "hello", spuId })));
  socket.on("data", (chunk) => {
    for (const frame of reader.push(chunk)) {
      if (frame.header.type === "accepted") {
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
    if (accepted) log(`SPU ${spuId} lost SC ${args.sc}; reconnecting`);
    accepted = false;
    if (stopping) return;
    setTimeout(connectToSc, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  });
}

log(`SPU ${spuId} starting: public ${args.public}, private ${args.private}, SC ${args.sc}, data ${args.data}`);
connectToSc();

function stop(signal: string): void {
  stopping = true;
  log(`SPU ${spuId} stopping on ${signal}`);
  scSocket?.destroy();
  health.stop(true);
  peerListener.close();
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
