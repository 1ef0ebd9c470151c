/**
 * Consumer offsets, SPU keys 1006 UpdateConsumerOffset, 1007 DeleteConsumerOffset and 1008
 * FetchConsumerOffsets (fluvio-spu-schema src/server/consumer_offset.rs, Fluvio 0.17.2 on): a
 * consumer named by its stream's consumer id commits the offset it has read to, and the
 * offsets kept are listed and deleted. FetchConsumerOffsets carries filters from version 24.
 */
import { CONSUMER_OFFSET_FILTERS_SINCE } from "./api-keys.ts";
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

/** A partition, as Fluvio names one in a message (fluvio-protocol src/record/replica.rs). */
export interface ReplicaKey {
  topic: string;
  partition: number;
}

export interface UpdateConsumerOffsetRequest {
  offset: number;
  /** The stream (StreamFetch's stream id) whose consumer id names the consumer. */
  sessionId: number;
}

export interface UpdateConsumerOffsetResponse {
  offset: number;
  errorCode: ErrorCode;
}

export interface DeleteConsumerOffsetRequest {
  replica: ReplicaKey;
  consumerId: string;
}

export interface DeleteConsumerOffsetResponse {
  errorCode: ErrorCode;
}

export interface ConsumerOffsetFilters {
  replica: ReplicaKey | null;
  consumerId: string | null;
}

export interface FetchConsumerOffsetsRequest {
  /** From version 24. */
  filters: ConsumerOffsetFilters | null;
}

export interface ConsumerOffset {
  consumerId: string;
  replica: ReplicaKey;
  offset: number;
  /** Milliseconds since the epoch. */
  modifiedTime: number;
}

export interface FetchConsumerOffsetsResponse {
  errorCode: ErrorCode;
  consumers: ConsumerOffset[];
}

function encodeReplicaKey(writer: Writer, key: ReplicaKey): void {
  writer.string(key.topic);
  writer.u32(key.partition);
}

function decodeReplicaKey(reader: Reader): ReplicaKey {
  return { topic: reader.string("topic"), partition: reader.u32("partition") };
}

export function encodeUpdateConsumerOffsetRequest(writer: Writer, request: UpdateConsumerOffsetRequest): void {
  writer.i64(request.offset);
  writer.u32(request.sessionId);
}

export function decodeUpdateConsumerOffsetRequest(reader: Reader): UpdateConsumerOffsetRequest {
  return { offset: reader.i64("offset"), sessionId: reader.u32("session id") };
}

export function encodeUpdateConsumerOffsetResponse(writer: Writer, response: UpdateConsumerOffsetResponse): void {
  writer.i64(response.offset);
  encodeErrorCode(writer, response.errorCode);
}

export function decodeUpdateConsumerOffsetResponse(reader: Reader): UpdateConsumerOffsetResponse {
  return { offset: reader.i64("offset"), errorCode: decodeErrorCode(reader) };
}

export function encodeDeleteConsumerOffsetRequest(writer: Writer, request: DeleteConsumerOffsetRequest): void {
  encodeReplicaKey(writer, request.replica);
  writer.string(request.consumerId);
}

export function decodeDeleteConsumerOffsetRequest(reader: Reader): DeleteConsumerOffsetRequest {
  return { replica: decodeReplicaKey(reader), consumerId: reader.string("consumer id") };
}

export function encodeDeleteConsumerOffsetResponse(writer: Writer, response: DeleteConsumerOffsetResponse): void {
  encodeErrorCode(writer, response.errorCode);
}

export function decodeDeleteConsumerOffsetResponse(reader: Reader): DeleteConsumerOffsetResponse {
  return { errorCode: decodeErrorCode(reader) };
}

export function encodeFetchConsumerOffsetsRequest(writer: Writer, request: FetchConsumerOffsetsRequest, version: number): void {
  if (version < CONSUMER_OFFSET_FILTERS_SINCE) return;
  writer.option(request.filters, (w, filters) => {
    w.option(filters.replica, encodeReplicaKey);
    w.optionString(filters.consumerId);
  });
}

export function decodeFetchConsumerOffsetsRequest(reader: Reader, version: number): FetchConsumerOffsetsRequest {
  if (version < CONSUMER_OFFSET_FILTERS_SINCE) return { filters: null };
  return {
    filters: reader.option("filters", (r) => ({ replica: r.option("replica", decodeReplicaKey), consumerId: r.optionString("consumer id") })),
  };
}

export function encodeFetchConsumerOffsetsResponse(writer: Writer, response: FetchConsumerOffsetsResponse): void {
  encodeErrorCode(writer, response.errorCode);
  writer.vec(response.consumers, (w, consumer) => {
    w.string(consumer.consumerId);
    encodeReplicaKey(w, consumer.replica);
    w.i64(consumer.offset);
    w.u64(consumer.modifiedTime);
  });
}

export function decodeFetchConsumerOffsetsResponse(reader: Reader): FetchConsumerOffsetsResponse {
  return {
    errorCode: decodeErrorCode(reader),
    consumers: reader.vec(
      "consumers",
      (r) => ({ consumerId: r.string("consumer id"), replica: decodeReplicaKey(r), offset: r.i64("offset"), modifiedTime: r.u64("modified time") }),
      24,
    ),
  };
}
