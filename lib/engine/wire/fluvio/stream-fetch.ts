/**
 * StreamFetch, SPU key 1003 (fluvio-spu-schema src/server/stream_fetch.rs,
 * src/fetch/response.rs): one request opens a stream; the SPU answers it with any number of
 * responses under the request's correlation id, each carrying the records since the last.
 * Versions 11 to 18 carry the legacy wasm, smartmodule and derivedstream fields; version 18
 * on a list of SmartModules; version 23 on a consumer id.
 */
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import { ISOLATIONS, type Isolation } from "./isolation.ts";
import type { Reader } from "./reader.ts";
import { decodeRecordSetBytes, encodeRecordSet } from "./record-batch.ts";
import {
  decodeDerivedStreamInvocation,
  decodeSmartModuleInvocation,
  encodeDerivedStreamInvocation,
  encodeSmartModuleInvocation,
  type DerivedStreamInvocation,
  type SmartModuleInvocation,
} from "./smartmodule.ts";
import type { Writer } from "./writer.ts";

export interface StreamFetchRequest {
  topic: string;
  partition: number;
  fetchOffset: number;
  maxBytes: number;
  isolation: Isolation;
  /** Versions 11 to 18 (legacy). */
  wasmModule: Uint8Array;
  /** Versions 16 to 18 (legacy). */
  smartModule: SmartModuleInvocation | null;
  /** Versions 16 to 18 (legacy). */
  derivedStream: DerivedStreamInvocation | null;
  /** From version 18. */
  smartModules: SmartModuleInvocation[];
  /** From version 23. */
  consumerId: string | null;
}

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface FetchablePartitionResponse {
  partitionIndex: number;
  errorCode: ErrorCode;
  highWatermark: number;
  /** From version 11: where the next fetch should start when a filter skipped records (else 0). */
  nextFilterOffset: number;
  logStartOffset: number;
  aborted: AbortedTransaction[] | null;
  /** The RecordSet's batches, back to back. */
  records: Uint8Array;
}

export interface StreamFetchResponse {
  topic: string;
  streamId: number;
  partition: FetchablePartitionResponse;
}

const NO_BYTES = new Uint8Array(0);

export function encodeStreamFetchRequest(writer: Writer, request: StreamFetchRequest, version: number): void {
  writer.string(request.topic);
  writer.u32(request.partition);
  writer.i64(request.fetchOffset);
  writer.i32(request.maxBytes);
  writer.variant(ISOLATIONS, request.isolation);
  if (version >= 11 && version <= 18) writer.bytes(request.wasmModule);
  if (version >= 16 && version <= 18) {
    writer.option(request.smartModule, (w, invocation) => encodeSmartModuleInvocation(w, invocation, version));
    writer.option(request.derivedStream, (w, invocation) => encodeDerivedStreamInvocation(w, invocation, version));
  }
  if (version >= 18) writer.vec(request.smartModules, (w, invocation) => encodeSmartModuleInvocation(w, invocation, version));
  if (version >= 23) writer.optionString(request.consumerId);
}

export function decodeStreamFetchRequest(reader: Reader, version: number): StreamFetchRequest {
  const topic = reader.string("topic");
  const partition = reader.u32("partition");
  const fetchOffset = reader.i64("fetch offset");
  const maxBytes = reader.i32("max bytes");
  const isolation = reader.variant(ISOLATIONS, "isolation");
  const wasmModule = version >= 11 && version <= 18 ? reader.bytesField("wasm module") : NO_BYTES;
  const legacy = version >= 16 && version <= 18;
  const smartModule = legacy ? reader.option("smartmodule", (r) => decodeSmartModuleInvocation(r, version)) : null;
  const derivedStream = legacy ? reader.option("derived stream", (r) => decodeDerivedStreamInvocation(r, version)) : null;
  const smartModules = version >= 18 ? reader.vec("smartmodules", (r) => decodeSmartModuleInvocation(r, version), 4) : [];
  const consumerId = version >= 23 ? reader.optionString("consumer id") : null;
  return { topic, partition, fetchOffset, maxBytes, isolation, wasmModule, smartModule, derivedStream, smartModules, consumerId };
}

export function encodeStreamFetchResponse(writer: Writer, response: StreamFetchResponse, version: number): void {
  writer.string(response.topic);
  writer.u32(response.streamId);
  encodeFetchablePartitionResponse(writer, response.partition, version);
}

export function decodeStreamFetchResponse(reader: Reader, version: number): StreamFetchResponse {
  return {
    topic: reader.string("topic"),
    streamId: reader.u32("stream id"),
    partition: decodeFetchablePartitionResponse(reader, version),
  };
}

export function encodeFetchablePartitionResponse(writer: Writer, partition: FetchablePartitionResponse, version: number): void {
  writer.u32(partition.partitionIndex);
  encodeErrorCode(writer, partition.errorCode);
  writer.i64(partition.highWatermark);
  if (version >= 11) writer.i64(partition.nextFilterOffset);
  writer.i64(partition.logStartOffset);
  writer.option(partition.aborted, (w, aborted) =>
    w.vec(aborted, (x, transaction) => {
      x.i64(transaction.producerId);
      x.i64(transaction.firstOffset);
    }),
  );
  encodeRecordSet(writer, partition.records);
}

export function decodeFetchablePartitionResponse(reader: Reader, version: number): FetchablePartitionResponse {
  return {
    partitionIndex: reader.u32("partition index"),
    errorCode: decodeErrorCode(reader),
    highWatermark: reader.i64("high watermark"),
    nextFilterOffset: version >= 11 ? reader.i64("next filter offset") : 0,
    logStartOffset: reader.i64("log start offset"),
    aborted: reader.option("aborted transactions", (r) =>
      r.vec("aborted transactions", (x) => ({ producerId: x.i64("producer id"), firstOffset: x.i64("first offset") }), 16),
    ),
    records: decodeRecordSetBytes(reader),
  };
}

/**
 * The frame `head` (a whole response whose last field is an empty RecordSet) with `records`
 * as its RecordSet, both sizes patched. With `roomBefore`, the caller's word that the
 * `head.length` bytes before `records` in its buffer are free (partition-log.ts `read` with
 * headroom), the head is written there, so the answer is one buffer and the records are never
 * copied.
 */
export function withRecords(head: Uint8Array, records: Uint8Array, roomBefore: boolean): Uint8Array {
  if (records.byteLength === 0) return head;
  const inPlace = roomBefore && records.byteOffset >= head.byteLength;
  const frame = inPlace
    ? new Uint8Array(records.buffer, records.byteOffset - head.byteLength, head.byteLength + records.byteLength)
    : new Uint8Array(head.byteLength + records.byteLength);
  frame.set(head, 0);
  if (!inPlace) frame.set(records, head.byteLength);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setInt32(0, view.getInt32(0) + records.byteLength);
  view.setInt32(head.byteLength - 4, records.byteLength);
  return frame;
}
