/**
 * Produce, SPU key 0 (fluvio-spu-schema src/produce/request.rs, src/produce/response.rs).
 * The request is encoded by hand in Fluvio, not by the derive: transactional_id is present at
 * every version (its min_version attribute is not applied), isolation travels as an i16 acks
 * (ReadUncommitted 1, ReadCommitted -1; any negative reads as ReadCommitted), the timeout as
 * i32 milliseconds, and smartmodules from version 8. Each partition's records are a RecordSet,
 * kept here as the bytes of its batches (check them with scanBatches).
 */
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError } from "./errors.ts";
import type { Isolation } from "./isolation.ts";
import type { Reader } from "./reader.ts";
import { decodeRecordSetBytes, encodeRecordSet } from "./record-batch.ts";
import { decodeSmartModuleInvocation, encodeSmartModuleInvocation, type SmartModuleInvocation } from "./smartmodule.ts";
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
  /** From version 8; Fluvio's producer sends none unless told to transform. */
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

const SMART_MODULES_VERSION = 8;

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
  if (version >= SMART_MODULES_VERSION) {
    writer.vec(request.smartModules, (w, invocation) => encodeSmartModuleInvocation(w, invocation, version));
  }
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
  const smartModules =
    version >= SMART_MODULES_VERSION ? reader.vec("smartmodules", (r) => decodeSmartModuleInvocation(r, version), 4) : [];
  return { transactionalId, isolation, timeoutMs, topics, smartModules };
}

export function encodeProduceResponse(writer: Writer, response: ProduceResponse, version: number): void {
  writer.vec(response.responses, (w, topic) => {
    w.string(topic.name);
    w.vec(topic.partitions, (x, partition) => {
      x.u32(partition.partitionIndex);
      encodeErrorCode(x, partition.errorCode);
      x.i64(partition.baseOffset);
      if (version >= 2) x.i64(partition.logAppendTimeMs);
      if (version >= 5) x.i64(partition.logStartOffset);
    });
  });
  if (version >= 1) writer.i32(response.throttleTimeMs);
}

export function decodeProduceResponse(reader: Reader, version: number): ProduceResponse {
  const responses = reader.vec(
    "topic responses",
    (r) => ({
      name: r.string("topic name"),
      partitions: r.vec(
        "partition responses",
        (x) => ({
          partitionIndex: x.u32("partition index"),
          errorCode: decodeErrorCode(x),
          baseOffset: x.i64("base offset"),
          logAppendTimeMs: version >= 2 ? x.i64("log append time") : 0,
          logStartOffset: version >= 5 ? x.i64("log start offset") : 0,
        }),
        14,
      ),
    }),
    6,
  );
  return { responses, throttleTimeMs: version >= 1 ? reader.i32("throttle time") : 0 };
}
