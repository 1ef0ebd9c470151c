/**
 * UpdateOffsets, SPU key 1005, version 0 (fluvio-spu-schema src/server/update_offset.rs): a
 * consumer stream reports the offset it has consumed up to, per stream session id.
 */
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

export interface UpdateOffsetsRequest {
  offsets: { offset: number; sessionId: number }[];
}

export interface UpdateOffsetsResponse {
  status: { sessionId: number; errorCode: ErrorCode }[];
}

export function encodeUpdateOffsetsRequest(writer: Writer, request: UpdateOffsetsRequest): void {
  writer.vec(request.offsets, (w, update) => {
    w.i64(update.offset);
    w.u32(update.sessionId);
  });
}

export function decodeUpdateOffsetsRequest(reader: Reader): UpdateOffsetsRequest {
  return { offsets: reader.vec("offsets", (r) => ({ offset: r.i64("offset"), sessionId: r.u32("session id") }), 12) };
}

export function encodeUpdateOffsetsResponse(writer: Writer, response: UpdateOffsetsResponse): void {
  writer.vec(response.status, (w, status) => {
    w.u32(status.sessionId);
    encodeErrorCode(w, status.errorCode);
  });
}

export function decodeUpdateOffsetsResponse(reader: Reader): UpdateOffsetsResponse {
  return { status: reader.vec("statuses", (r) => ({ sessionId: r.u32("session id"), errorCode: decodeErrorCode(r) }), 6) };
}
