/**
 * The face of Fluvio's codec for a client of the SC: what the CLI's connection and admin client
 * (lib/fluvio/) use to negotiate versions, frame requests and speak the object API. The SPU
 * half (produce, offsets, streams, record batches) is spu-mod.ts, loaded only by what talks to
 * SPUs.
 */
export { API_VERSIONS_KEY, API_VERSIONS_VERSION, SC_API_KEY, SC_OBJECT_VERSION, SPU_API_KEY, SPU_VERSION, UPDATE_OFFSETS_VERSION, type ApiVersionKey } from "./api-keys.ts";
export { decodeApiVersionsResponse, encodeApiVersionsRequest } from "./api-versions.ts";
export { decodeResponse, encodeRequest, FrameSplitter, MIN_RESPONSE_BYTES } from "./framing.ts";
export type { ErrorCode } from "./error-code.ts";
export type { ObjectMetadata, PartitionMetadata, SpuMetadata, TopicMetadata } from "./metadata.ts";
export { decodeListResponse, decodeStatus, encodeCreateRequest, encodeDeleteRequest, encodeListRequest, encodeUpdateRequest, type CreateRequest, type DeleteRequest, type UpdateRequest } from "./object-api.ts";
export type { Reader } from "./reader.ts";
export type { Writer } from "./writer.ts";
