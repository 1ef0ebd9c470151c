/**
 * The daemons' HTTP side of the cluster token (lib/token.ts): the SC's admin API and each SPU's
 * produce and consume endpoints wrap their handlers in `authorized`, so one rule, one answer and
 * one log line serve both. Health endpoints stay open: `status` and scripts probe them.
 */
import { refuseRequest } from "../../../token.ts";
import { log } from "../../daemon/log.ts";

/**
 * `handler` behind the cluster token: a request without it gets 401 UNAUTHORIZED and a log
 * line saying what was refused, from where and why, never the value presented.
 */
export function authorized<R extends Request>(
  token: string,
  handler: (request: R) => Response | Promise<Response>,
): (request: R, server: Bun.Server<undefined>) => Response | Promise<Response> {
  return (request, server) => {
    const refusal = refuseRequest(request, token);
    if (refusal === undefined) return handler(request);
    const from = server.requestIP(request)?.address ?? "an unknown address";
    log(`refused ${request.method} ${new URL(request.url).pathname} from ${from}: ${refusal}`);
    return Response.json(
      { error: { code: "UNAUTHORIZED", message: "this endpoint needs the cluster token as 'Authorization: Bearer <token>'" } },
      { status: 401, headers: { "www-authenticate": "Bearer" } },
    );
  };
}
