/**
 * ApiVersions, key 18 (fluvio-protocol src/link/versions.rs; fluvio-socket src/versioned.rs):
 * the request carries the client's version, OS and architecture (each from version 1); the
 * answer carries an error code, the API ranges the server serves and its platform version.
 */
import type { ApiVersionKey } from "./api-keys.ts";
import { errorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError } from "./errors.ts";
import { codec, decoder, encoder, fixedDecoder, fixedEncoder, i16, string, struct, vec } from "./fields.ts";
import { API_VERSIONS_CLIENT_SINCE } from "./versions.ts";

export interface ApiVersionsRequest {
  clientVersion: string;
  clientOs: string;
  clientArch: string;
}

export interface ApiVersionsResponse {
  errorCode: ErrorCode;
  apiKeys: ApiVersionKey[];
  /** Semver; Fluvio clients refuse anything else. */
  platformVersion: string;
}

/** Fluvio's check on the platform version: plain semver, pre-release and build allowed. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

const REQUEST = struct<ApiVersionsRequest>([
  { name: "clientVersion", type: string, since: API_VERSIONS_CLIENT_SINCE, absent: "" },
  { name: "clientOs", type: string, since: API_VERSIONS_CLIENT_SINCE, absent: "" },
  { name: "clientArch", type: string, since: API_VERSIONS_CLIENT_SINCE, absent: "" },
]);

const RESPONSE = struct<ApiVersionsResponse>([
  { name: "errorCode", type: errorCode },
  {
    name: "apiKeys",
    type: vec(
      struct<ApiVersionKey>([
        { name: "apiKey", type: i16 },
        { name: "minVersion", type: i16 },
        { name: "maxVersion", type: i16 },
      ]),
    ),
  },
  {
    name: "platformVersion",
    type: codec<string>(
      2,
      (w, version) => w.string(version),
      (r, _, what) => {
        const at = r.offset;
        const version = r.string(what);
        if (!SEMVER.test(version)) throw new FluvioDecodeError(what, at, `'${version}' is not semver`);
        return version;
      },
    ),
  },
]);

export const API_VERSIONS = { request: REQUEST, response: RESPONSE };

export const encodeApiVersionsRequest = encoder(REQUEST);
export const decodeApiVersionsRequest = decoder(REQUEST, "api versions request");
/** The response has no version-gated fields. */
export const encodeApiVersionsResponse = fixedEncoder(RESPONSE);
export const decodeApiVersionsResponse = fixedDecoder(RESPONSE, "api versions response");

/**
 * The version a client uses for `apiKey` given what the server advertised, as Fluvio's client
 * picks it: when the ranges overlap, the lower of the two maxima; null when the server does not
 * serve the key or no version is common.
 */
export function negotiateVersion(
  advertised: readonly ApiVersionKey[],
  apiKey: number,
  clientMin: number,
  clientMax: number,
): number | null {
  for (const key of advertised) {
    if (key.apiKey === apiKey && key.maxVersion >= clientMin && key.minVersion <= clientMax) {
      return Math.min(clientMax, key.maxVersion);
    }
  }
  return null;
}
