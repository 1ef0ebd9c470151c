/**
 * UpdateOffsets, SPU key 1005, version 0 (fluvio-spu-schema src/server/update_offset.rs): a
 * consumer stream reports the offset it has consumed up to, per stream session id.
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { fixedDecoder, fixedEncoder, i64, struct, u32, vec } from "./fields.ts";

export interface UpdateOffsetsRequest {
  offsets: { offset: number; sessionId: number }[];
}

export interface UpdateOffsetsResponse {
  status: { sessionId: number; errorCode: ErrorCode }[];
}

const REQUEST = struct<UpdateOffsetsRequest>([
  {
    name: "offsets",
    type: vec(
      struct<UpdateOffsetsRequest["offsets"][number]>([
        { name: "offset", type: i64 },
        { name: "sessionId", type: u32 },
      ]),
    ),
  },
]);

const RESPONSE = struct<UpdateOffsetsResponse>([
  {
    name: "status",
    label: "statuses",
    type: vec(
      struct<UpdateOffsetsResponse["status"][number]>([
        { name: "sessionId", type: u32 },
        { name: "errorCode", type: errorCode },
      ]),
    ),
  },
]);

export const UPDATE_OFFSETS = { request: REQUEST, response: RESPONSE };

export const encodeUpdateOffsetsRequest = fixedEncoder(REQUEST);
export const decodeUpdateOffsetsRequest = fixedDecoder(REQUEST, "update offsets request");
export const encodeUpdateOffsetsResponse = fixedEncoder(RESPONSE);
export const decodeUpdateOffsetsResponse = fixedDecoder(RESPONSE, "update offsets response");
