/**
 * What both public servers do with each request before its key's handler, as Fluvio's SC and
 * SPU do (fluvio-sc src/services/public_api/public_server.rs, fluvio-spu
 * src/services/public/mod.rs): decode the header, answer ApiVersions, and hand the body to the
 * handler of its key, to be decoded at the header's version. A version outside what ApiVersions
 * lists is served all the same (Fluvio's servers never check it: a client whose range does not
 * overlap sends its own default version, and fields are gated by version either way). A key
 * with no handler is one Fluvio's servers would not decode either: it throws, and PublicPort
 * closes that one connection.
 */
import type { Link } from "../wire/link.ts";
import { API_VERSIONS_KEY, FLUVIO_PLATFORM_VERSION, type ApiVersionKey } from "../wire/fluvio/api-keys.ts";
import { decodeApiVersionsRequest, encodeApiVersionsResponse } from "../wire/fluvio/api-versions.ts";
import { NO_ERROR } from "../wire/fluvio/error-code.ts";
import { decodeRequest, encodeResponse, type RequestHeader } from "../wire/fluvio/framing.ts";
import type { Reader } from "../wire/fluvio/reader.ts";
import type { Writer } from "../wire/fluvio/writer.ts";

/** Writes one answer under the request's correlation id. */
export type Answer = (writeBody: (writer: Writer) => void) => void;

/** Serves one request of its key; what it throws closes the connection. */
export type FluvioHandler = (header: RequestHeader, body: Reader, answer: Answer) => void;

export interface FluvioService {
  /** What ApiVersions lists. */
  advertised: readonly ApiVersionKey[];
  /** The handler of each key served, ApiVersions aside. */
  handlers: ReadonlyMap<number, FluvioHandler>;
}

/** The function PublicPort calls with each whole request payload of `link`. */
export function fluvioDispatch(service: FluvioService, link: Link): (payload: Uint8Array) => void {
  return (payload) => {
    const { header, body } = decodeRequest(payload);
    const answer: Answer = (writeBody) => void link.write(encodeResponse(header.correlationId, writeBody));
    if (header.apiKey === API_VERSIONS_KEY) {
      decodeApiVersionsRequest(body, header.apiVersion);
      return answer((writer) =>
        encodeApiVersionsResponse(writer, { errorCode: NO_ERROR, apiKeys: [...service.advertised], platformVersion: FLUVIO_PLATFORM_VERSION }),
      );
    }
    const handler = service.handlers.get(header.apiKey);
    if (!handler) throw new Error(`unknown API key ${header.apiKey}`);
    handler(header, body, answer);
  };
}
