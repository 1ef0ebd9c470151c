/**
 * FetchOffsets, SPU key 1002 (fluvio-spu-schema src/server/fetch_offset.rs): a consumer asks
 * for each partition's start offset and last stable offset (the high watermark) before it
 * streams, to resolve offsets such as "from the beginning".
 */
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

export interface FetchOffsetsRequest {
  topics: { name: string; partitions: { partitionIndex: number }[] }[];
  /** From version 23. */
  consumerId: string | null;
}

export interface FetchOffsetPartitionResponse {
  errorCode: ErrorCode;
  partitionIndex: number;
  startOffset: number;
  lastStableOffset: number;
}

export interface FetchOffsetsResponse {
  topics: { name: string; partitions: FetchOffsetPartitionResponse[] }[];
}

export function encodeFetchOffsetsRequest(writer: Writer, request: FetchOffsetsRequest, version: number): void {
  writer.vec(request.topics, (w, topic) => {
    w.string(topic.name);
    w.vec(topic.partitions, (x, partition) => x.u32(partition.partitionIndex));
  });
  if (version >= 23) writer.optionString(request.consumerId);
}

export function decodeFetchOffsetsRequest(reader: Reader, version: number): FetchOffsetsRequest {
  const topics = reader.vec(
    "topics",
    (r) => ({ name: r.string("topic name"), partitions: r.vec("partitions", (x) => ({ partitionIndex: x.u32("partition index") }), 4) }),
    6,
  );
  return { topics, consumerId: version >= 23 ? reader.optionString("consumer id") : null };
}

/** The response has no version-gated fields. */
export function encodeFetchOffsetsResponse(writer: Writer, response: FetchOffsetsResponse): void {
  writer.vec(response.topics, (w, topic) => {
    w.string(topic.name);
    w.vec(topic.partitions, (x, partition) => {
      encodeErrorCode(x, partition.errorCode);
      x.u32(partition.partitionIndex);
      x.i64(partition.startOffset);
      x.i64(partition.lastStableOffset);
    });
  });
}

export function decodeFetchOffsetsResponse(reader: Reader): FetchOffsetsResponse {
  return {
    topics: reader.vec(
      "topics",
      (r) => ({
        name: r.string("topic name"),
        partitions: r.vec(
          "partitions",
          (x) => ({
            errorCode: decodeErrorCode(x),
            partitionIndex: x.u32("partition index"),
            startOffset: x.i64("start offset"),
            lastStableOffset: x.i64("last stable offset"),
          }),
          22,
        ),
      }),
      6,
    ),
  };
}
