/**
 * Produce, SPU key 0 (fluvio-spu-schema src/produce/request.rs, src/produce/response.rs).
 * The request is encoded by hand in Fluvio, not by the derive: transactional_id is present at
 * every version (its min_version attribute is not applied), isolation travels as an i16 acks
 * (ReadUncommitted 1, ReadCommitted -1; any negative reads as ReadCommitted), the timeout as
 * i32 milliseconds, and smartmodules at every version (Fluvio 0.18; 0.11 gated them at 8, which
 * no client of either sends below). Each partition's records are a RecordSet,
 * kept here as the bytes of its batches (check them with scanBatches).
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError } from "./errors.ts";
import { decoder, encoder, i32, i64, string, struct, u32, vec } from "./fields.ts";
import type { Isolation } from "./isolation.ts";
import type { Reader } from "./reader.ts";
import { decodeRecordSetBytes, encodeRecordSet } from "./record-batch.ts";
import { decodeSmartModuleInvocation, encodeSmartModuleInvocation, type SmartModuleInvocation } from "./smartmodule.ts";
import { PRODUCE_LOG_APPEND_TIME_SINCE, PRODUCE_LOG_START_OFFSET_SINCE, PRODUCE_THROTTLE_SINCE } from "./versions.ts";
import type { Writer } from "./writer.ts";

export interface ProduceRequest {
  transactionalId: string | null;
  isolation: Isolation;
  timeoutMs: number;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      /** The RecordSet's batches, back to back (a view into the request). */
      records: Uint8Array;
    }[];
  }[];
  /** Fluvio's producer sends none unless told to transform. */
  smartModules: SmartModuleInvocation[];
}

export interface PartitionProduceResponse {
  partitionIndex: number;
  errorCode: ErrorCode;
  /** The offset given to the first record produced. */
  baseOffset: number;
  /** From version 2. */
  logAppendTimeMs: number;
  /** From version 5. */
  logStartOffset: number;
}

export interface ProduceResponse {
  responses: { name: string; partitions: PartitionProduceResponse[] }[];
  /** From version 1. */
  throttleTimeMs: number;
}

export function encodeProduceRequest(writer: Writer, request: ProduceRequest, version: number): void {
  writer.optionString(request.transactionalId);
  writer.i16(request.isolation === "ReadCommitted" ? -1 : 1);
  writer.i32(request.timeoutMs);
  writer.vec(request.topics, (w, topic) => {
    w.string(topic.name);
    w.vec(topic.partitions, (x, partition) => {
      x.u32(partition.partitionIndex);
      encodeRecordSet(x, partition.records);
    });
  });
  writer.vec(request.smartModules, (w, invocation) => encodeSmartModuleInvocation(w, invocation, version));
}

export function decodeProduceRequest(reader: Reader, version: number): ProduceRequest {
  const transactionalId = reader.optionString("transactional id");
  const isolation: Isolation = reader.i16("acks") < 0 ? "ReadCommitted" : "ReadUncommitted";
  const timeoutAt = reader.offset;
  const timeoutMs = reader.i32("timeout");
  if (timeoutMs < 0) throw new FluvioDecodeError("timeout", timeoutAt, `timeout ${timeoutMs} ms is negative`);
  const topics = reader.vec(
    "topics",
    (r) => ({
      name: r.string("topic name"),
      partitions: r.vec("partitions", (x) => ({ partitionIndex: x.u32("partition index"), records: decodeRecordSetBytes(x) }), 8),
    }),
    6,
  );
  const smartModules = reader.vec("smartmodules", (r) => decodeSmartModuleInvocation(r, version), 4);
  return { transactionalId, isolation, timeoutMs, topics, smartModules };
}

const RESPONSE = struct<ProduceResponse>([
  {
    name: "responses",
    label: "topic responses",
    type: vec(
      struct<ProduceResponse["responses"][number]>([
        { name: "name", type: string, label: "topic name" },
        {
          name: "partitions",
          label: "partition responses",
          type: vec(
            struct<PartitionProduceResponse>([
              { name: "partitionIndex", type: u32 },
              { name: "errorCode", type: errorCode },
              { name: "baseOffset", type: i64 },
              { name: "logAppendTimeMs", type: i64, since: PRODUCE_LOG_APPEND_TIME_SINCE, absent: 0, label: "log append time" },
              { name: "logStartOffset", type: i64, since: PRODUCE_LOG_START_OFFSET_SINCE, absent: 0 },
            ]),
          ),
        },
      ]),
    ),
  },
  { name: "throttleTimeMs", type: i32, since: PRODUCE_THROTTLE_SINCE, absent: 0, label: "throttle time" },
]);

export const PRODUCE_RESPONSE = RESPONSE;

export const encodeProduceResponse = encoder(RESPONSE);
export const decodeProduceResponse = decoder(RESPONSE, "produce response");
