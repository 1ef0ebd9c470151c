/**
 * ApiVersions, key 18 (fluvio-protocol src/link/versions.rs; fluvio-socket src/versioned.rs):
 * the request carries the client's version, OS and architecture (each from version 1); the
 * answer carries an error code, the API ranges the server serves and its platform version.
 */
import type { ApiVersionKey } from "./api-keys.ts";
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError } from "./errors.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

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

export function encodeApiVersionsRequest(writer: Writer, request: ApiVersionsRequest, version: number): void {
  if (version < 1) return;
  writer.string(request.clientVersion);
  writer.string(request.clientOs);
  writer.string(request.clientArch);
}

export function decodeApiVersionsRequest(reader: Reader, version: number): ApiVersionsRequest {
  if (version < 1) return { clientVersion: "", clientOs: "", clientArch: "" };
  return {
    clientVersion: reader.string("client version"),
    clientOs: reader.string("client os"),
    clientArch: reader.string("client arch"),
  };
}

/** The response has no version-gated fields. */
export function encodeApiVersionsResponse(writer: Writer, response: ApiVersionsResponse): void {
  encodeErrorCode(writer, response.errorCode);
  writer.vec(response.apiKeys, (w, key) => {
    w.i16(key.apiKey);
    w.i16(key.minVersion);
    w.i16(key.maxVersion);
  });
  writer.string(response.platformVersion);
}

export function decodeApiVersionsResponse(reader: Reader): ApiVersionsResponse {
  const errorCode = decodeErrorCode(reader);
  const apiKeys = reader.vec(
    "api keys",
    (r) => ({ apiKey: r.i16("api key"), minVersion: r.i16("min version"), maxVersion: r.i16("max version") }),
    6,
  );
  const at = reader.offset;
  const platformVersion = reader.string("platform version");
  if (!SEMVER.test(platformVersion)) {
    throw new FluvioDecodeError("platform version", at, `'${platformVersion}' is not semver`);
  }
  return { errorCode, apiKeys, platformVersion };
}

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
