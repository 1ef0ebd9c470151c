/**
 * StreamFetch, SPU key 1003 (fluvio-spu-schema src/server/stream_fetch.rs,
 * src/fetch/response.rs): one request opens a stream; the SPU answers it with any number of
 * responses under the request's correlation id, each carrying the records since the last.
 * Versions 11 to 18 carry the legacy wasm, smartmodule and derivedstream fields; version 18
 * on a list of SmartModules; version 23 on a consumer id.
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { bytes, codec, decoder, encoder, i32, i64, option, optionString, string, struct, u32, vec, variant } from "./fields.ts";
import { ISOLATIONS, type Isolation } from "./isolation.ts";
import { decodeRecordSetBytes, encodeRecordSet } from "./record-batch.ts";
import { derivedStreamInvocation, smartModuleInvocation, type DerivedStreamInvocation, type SmartModuleInvocation } from "./smartmodule.ts";
import {
  CONSUMER_ID_SINCE,
  NEXT_FILTER_OFFSET_SINCE,
  STREAM_FETCH_LEGACY_SMARTMODULE_SINCE,
  STREAM_FETCH_LEGACY_UNTIL,
  STREAM_FETCH_SMARTMODULES_SINCE,
  STREAM_FETCH_WASM_SINCE,
} from "./versions.ts";

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

const REQUEST = struct<StreamFetchRequest>([
  { name: "topic", type: string },
  { name: "partition", type: u32 },
  { name: "fetchOffset", type: i64 },
  { name: "maxBytes", type: i32 },
  { name: "isolation", type: variant(ISOLATIONS) },
  { name: "wasmModule", type: bytes, since: STREAM_FETCH_WASM_SINCE, until: STREAM_FETCH_LEGACY_UNTIL, absent: NO_BYTES },
  {
    name: "smartModule",
    type: option(smartModuleInvocation),
    since: STREAM_FETCH_LEGACY_SMARTMODULE_SINCE,
    until: STREAM_FETCH_LEGACY_UNTIL,
    absent: null,
    label: "smartmodule",
  },
  { name: "derivedStream", type: option(derivedStreamInvocation), since: STREAM_FETCH_LEGACY_SMARTMODULE_SINCE, until: STREAM_FETCH_LEGACY_UNTIL, absent: null },
  { name: "smartModules", type: vec(smartModuleInvocation), since: STREAM_FETCH_SMARTMODULES_SINCE, absent: [], label: "smartmodules" },
  { name: "consumerId", type: optionString, since: CONSUMER_ID_SINCE, absent: null },
]);

/** A RecordSet: an i32 length, then the batches (hand-written in Fluvio's record module). */
const recordSet = codec<Uint8Array>(4, (w, records) => encodeRecordSet(w, records), (r) => decodeRecordSetBytes(r));

const ABORTED = option(
  vec(
    struct<AbortedTransaction>([
      { name: "producerId", type: i64 },
      { name: "firstOffset", type: i64 },
    ]),
  ),
);

/** FetchablePartitionResponse (fetch/response.rs). */
export const fetchablePartitionResponse = struct<FetchablePartitionResponse>([
  { name: "partitionIndex", type: u32 },
  { name: "errorCode", type: errorCode },
  { name: "highWatermark", type: i64 },
  { name: "nextFilterOffset", type: i64, since: NEXT_FILTER_OFFSET_SINCE, absent: 0 },
  { name: "logStartOffset", type: i64 },
  { name: "aborted", type: ABORTED, label: "aborted transactions" },
  { name: "records", type: recordSet },
]);

const RESPONSE = struct<StreamFetchResponse>([
  { name: "topic", type: string },
  { name: "streamId", type: u32 },
  { name: "partition", type: fetchablePartitionResponse },
]);

export const STREAM_FETCH = { request: REQUEST, response: RESPONSE };

export const encodeStreamFetchRequest = encoder(REQUEST);
export const decodeStreamFetchRequest = decoder(REQUEST, "stream fetch request");
export const encodeStreamFetchResponse = encoder(RESPONSE);
export const decodeStreamFetchResponse = decoder(RESPONSE, "stream fetch response");
export const encodeFetchablePartitionResponse = encoder(fetchablePartitionResponse);
export const decodeFetchablePartitionResponse = decoder(fetchablePartitionResponse, "fetchable partition response");

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
