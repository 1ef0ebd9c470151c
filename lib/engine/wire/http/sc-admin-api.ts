/**
 * The SC's admin API over HTTP, on its public port: a thin adapter from routes to the
 * controller's admin methods, with the controller's refusals mapped to HTTP statuses. Every
 * route but `GET /health` wants the cluster token (auth.ts).
 *
 *   GET /health               GET /spus (Fluvio's JSON shape)   POST /spus   DELETE /spus/:id
 *   GET /topics   POST /topics   DELETE /topics/:name           GET /partitions[?topic=T]
 */
import { AdminRefusal, type AdminRefusalCode } from "../../control-plane/topic-registry.ts";
import type { Controller } from "../../control-plane/controller.ts";
import { authorized } from "./auth.ts";

const REFUSAL_STATUS: Record<AdminRefusalCode, number> = {
  TOPIC_INVALID: 400,
  TOPIC_EXISTS: 409,
  INSUFFICIENT_SPUS: 422,
  NO_TOPIC: 404,
  SPU_EXISTS: 409,
  NO_SPU: 404,
};

function jsonResponse(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

function errorResponse(status: number, message: string, code?: string): Response {
  return jsonResponse({ error: { code, message } }, status);
}

/** The answer to a controller call: its result, or its refusal as an error response. */
function answer(call: () => { body: unknown; status?: number }): Response {
  try {
    const { body, status } = call();
    return jsonResponse(body, status);
  } catch (error) {
    if (!(error instanceof AdminRefusal)) throw error;
    return errorResponse(REFUSAL_STATUS[error.code], error.message, error.code);
  }
}

async function createTopic(controller: Controller, request: Request): Promise<Response> {
  const body = (await request.json().catch(() => undefined)) as { name?: unknown; partitions?: unknown; replication?: unknown } | undefined;
  return answer(() => {
    const topic = controller.createTopic({ ...body, name: body?.name });
    return { body: { ...topic, partitions: controller.listPartitions(topic.name) }, status: 201 };
  });
}

async function registerSpu(controller: Controller, defaultHost: string, request: Request): Promise<Response> {
  const body = (await request.json().catch(() => undefined)) as
    | { id?: unknown; host?: unknown; publicPort?: unknown; privatePort?: unknown }
    | undefined;
  const { id, publicPort, privatePort } = body ?? {};
  if (!Number.isInteger(id) || !Number.isInteger(publicPort) || !Number.isInteger(privatePort)) {
    return errorResponse(400, "expected {id, host, publicPort, privatePort} with integer id and ports");
  }
  const host = typeof body!.host === "string" ? body!.host : defaultHost;
  return answer(() => ({
    body: controller.registerSpu(id as number, host, { publicPort: publicPort as number, privatePort: privatePort as number }),
    status: 201,
  }));
}

/** Serves the admin API for `controller` on `address`; throws if it cannot bind. */
export function serveScAdminApi(controller: Controller, options: { address: { host: string; port: number }; token: string }): Bun.Server<undefined> {
  const { address, token } = options;
  return Bun.serve({
    hostname: address.host,
    port: address.port,
    routes: {
      "/health": () => jsonResponse({ status: "ok", pid: process.pid }),
      "/spus": {
        GET: authorized(token, () => jsonResponse(controller.listSpus())),
        POST: authorized(token, (request) => registerSpu(controller, address.host, request)),
      },
      "/spus/:id": {
        DELETE: authorized(token, (request: Bun.BunRequest<"/spus/:id">) =>
          answer(() => {
            const id = Number(request.params.id);
            controller.unregisterSpu(id);
            return { body: { unregistered: id } };
          }),
        ),
      },
      "/topics": {
        GET: authorized(token, () => jsonResponse(controller.listTopics())),
        POST: authorized(token, (request) => createTopic(controller, request)),
      },
      "/topics/:name": {
        DELETE: authorized(token, (request: Bun.BunRequest<"/topics/:name">) =>
          answer(() => {
            const name = decodeURIComponent(request.params.name);
            controller.deleteTopic(name);
            return { body: { deleted: name } };
          }),
        ),
      },
      "/partitions": {
        GET: authorized(token, (request) => jsonResponse(controller.listPartitions(new URL(request.url).searchParams.get("topic") ?? undefined))),
      },
    },
    // An unknown path says only that it is unknown, and only to a caller with the token.
    fetch: authorized(token, () => errorResponse(404, "no such endpoint")),
  });
}
