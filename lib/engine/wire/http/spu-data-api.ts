/**
 * An SPU's produce and consume over HTTP, on its public port: a thin adapter from routes to
 * its replicas (data-plane/replica.ts), with replica errors mapped to HTTP statuses. Produce
 * and consume want the cluster token (auth.ts); health does not.
 *
 *   POST /produce/:topic/:partition   body: values (records.ts); answers {baseOffset, lastOffset}
 *                                     once every in-sync replica has them (acks=all)
 *   GET  /consume/:topic/:partition?offset=N&maxBytes=B&waitMs=W
 *                                     body: log frames below the high watermark; headers
 *                                     x-next-offset and x-high-watermark
 */
import { log } from "../../daemon/log.ts";
import { ReplicaError, type ReplicaErrorCode } from "../../data-plane/replica.ts";
import type { ReplicaManager } from "../../data-plane/replica-manager.ts";
import { authorized } from "./auth.ts";
import { decodeValues } from "./records.ts";

const DEFAULT_CONSUME_BYTES = 1024 * 1024;
const MAX_CONSUME_BYTES = 16 * 1024 * 1024;
const MAX_WAIT_MS = 5_000;

const ERROR_STATUS: Record<ReplicaErrorCode, number> = {
  NOT_LEADER: 409,
  OFFSET_OUT_OF_RANGE: 416,
  PRODUCE_TIMEOUT: 504,
  SC_UNREACHABLE: 503,
  BAD_REQUEST: 400,
};

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

function replicaErrorResponse(error: unknown): Response {
  if (error instanceof ReplicaError) return errorResponse(ERROR_STATUS[error.code], error.code, error.message);
  log(`request failed: ${(error as Error).stack ?? error}`);
  return errorResponse(500, "SPU_ERROR", (error as Error).message);
}

/** A non-negative integer query parameter, `fallback` when absent, capped at `max`. */
function queryNumber(url: URL, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = url.searchParams.get(name);
  const value = text === null ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 0) throw new ReplicaError("BAD_REQUEST", `${name} must be a non-negative integer, not '${text}'`);
  return Math.min(value, max);
}

/** Serves produce and consume for `replicas` of SPU `spuId` on `address`; throws if it cannot bind. */
export function serveSpuDataApi(
  replicas: ReplicaManager,
  options: { spuId: number; address: { host: string; port: number }; token: string; scConnected: () => boolean },
): Bun.Server<undefined> {
  const { spuId, address, token } = options;

  const findReplica = (params: { topic: string; partition: string }) => {
    const topic = decodeURIComponent(params.topic);
    const replica = replicas.get(topic, Number(params.partition));
    if (!replica) throw new ReplicaError("NOT_LEADER", `SPU ${spuId} holds no replica of partition '${topic}-${params.partition}'`);
    return replica;
  };

  const produce = async (request: Bun.BunRequest<"/produce/:topic/:partition">): Promise<Response> => {
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
  };

  const consume = async (request: Bun.BunRequest<"/consume/:topic/:partition">): Promise<Response> => {
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
  };

  return Bun.serve({
    hostname: address.host,
    port: address.port,
    // NOTE: a produce waits for its followers for up to PRODUCE_TIMEOUT_MS; the connection must outlive it.
    idleTimeout: 60,
    routes: {
      "/health": () => Response.json({ status: "ok", spuId, pid: process.pid, scConnected: options.scConnected() }),
      "/produce/:topic/:partition": { POST: authorized(token, produce) },
      "/consume/:topic/:partition": { GET: authorized(token, consume) },
    },
    fetch: authorized(token, () => errorResponse(404, "NO_ENDPOINT", "no such endpoint")),
  });
}
