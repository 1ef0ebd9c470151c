import { describe, expect, test } from "bun:test";
import { SPU_API_KEY } from "../../../../lib/engine/wire/fluvio/api-keys.ts";
import { FluvioDecodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import {
  decodeFetchOffsetsRequest,
  decodeFetchOffsetsResponse,
  encodeFetchOffsetsRequest,
  encodeFetchOffsetsResponse,
  type FetchOffsetsRequest,
  type FetchOffsetsResponse,
} from "../../../../lib/engine/wire/fluvio/fetch-offsets.ts";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "../../../../lib/engine/wire/fluvio/framing.ts";
import {
  decodeProduceRequest,
  decodeProduceResponse,
  encodeProduceRequest,
  encodeProduceResponse,
  type ProduceRequest,
  type ProduceResponse,
} from "../../../../lib/engine/wire/fluvio/produce.ts";
import { Reader } from "../../../../lib/engine/wire/fluvio/reader.ts";
import { decodeBatches, encodeBatches, recordBatch, scanBatches } from "../../../../lib/engine/wire/fluvio/record-batch.ts";
import {
  decodeSmartModuleInvocation,
  encodeSmartModuleInvocation,
  type SmartModuleInvocation,
  type SmartModuleKind,
} from "../../../../lib/engine/wire/fluvio/smartmodule.ts";
import {
  decodeStreamFetchRequest,
  decodeStreamFetchResponse,
  encodeStreamFetchRequest,
  encodeStreamFetchResponse,
  type StreamFetchRequest,
  type StreamFetchResponse,
} from "../../../../lib/engine/wire/fluvio/stream-fetch.ts";
import {
  decodeUpdateOffsetsRequest,
  decodeUpdateOffsetsResponse,
  encodeUpdateOffsetsRequest,
  encodeUpdateOffsetsResponse,
} from "../../../../lib/engine/wire/fluvio/update-offsets.ts";
import type { Writer } from "../../../../lib/engine/wire/fluvio/writer.ts";
import { bytes, decodedWhole, encoded, hex } from "../../../fluvio-bytes.ts";

/** The version @fluvio/client 0.14.9 (Fluvio 0.11.11) sends, at which these goldens were captured. */
const V = 23;
const batches = encodeBatches([recordBatch([{ key: bytes('"k"'), value: bytes('"a"') }], { firstTimestamp: 1_700_000_000_000 })]);
const BATCHES = hex(batches);
const SET = `${batches.length.toString(16).padStart(8, "0")} ${BATCHES}`;

type Case = [string, (w: Writer) => void, (r: Reader) => unknown, unknown, string];

function row<T>(name: string, value: T, write: (w: Writer, value: T) => void, read: (r: Reader) => T, golden: string): Case {
  return [name, (w) => write(w, value), read, value, golden];
}

const produceRequest: ProduceRequest = {
  transactionalId: null,
  isolation: "ReadCommitted",
  timeoutMs: 1500,
  topics: [{ name: "t", partitions: [{ partitionIndex: 0, records: batches }] }],
  smartModules: [],
};
const produceResponse: ProduceResponse = {
  responses: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: { code: "None" }, baseOffset: 10, logAppendTimeMs: -1, logStartOffset: 0 }] }],
  throttleTimeMs: 0,
};
const fetchOffsetsRequest: FetchOffsetsRequest = { topics: [{ name: "t", partitions: [{ partitionIndex: 0 }] }], consumerId: null };
const fetchOffsetsResponse: FetchOffsetsResponse = {
  topics: [{ name: "t", partitions: [{ errorCode: { code: "None" }, partitionIndex: 0, startOffset: 0, lastStableOffset: 5 }] }],
};
const filter: SmartModuleInvocation = {
  wasm: { type: "AdHoc", bytes: bytes("deadbeef") },
  kind: { type: "Filter" },
  params: { params: new Map(), lookback: { last: 1, age: null } },
};
const streamFetchRequest = (version: number, smartModules: SmartModuleInvocation[] = []): StreamFetchRequest => ({
  topic: "one",
  partition: 3,
  fetchOffset: 0,
  maxBytes: 0,
  isolation: "ReadUncommitted",
  wasmModule: new Uint8Array(0),
  smartModule: null,
  derivedStream: null,
  smartModules: version >= 18 ? smartModules.map((sm) => ({ ...sm, params: { ...sm.params, lookback: version >= 20 ? sm.params.lookback : null } })) : [],
  consumerId: null,
});
const streamFetchResponse = (_version: number): StreamFetchResponse => ({
  topic: "t",
  streamId: 0,
  partition: {
    partitionIndex: 0,
    errorCode: { code: "None" },
    highWatermark: 2,
    nextFilterOffset: 0,
    logStartOffset: 0,
    aborted: null,
    records: batches,
  },
});

describe("SPU API messages", () => {
  const cases: Case[] = [
    row("Produce request at version 23", produceRequest, (w, v) => encodeProduceRequest(w, v, V), (r) => decodeProduceRequest(r, V), `00 | ffff | 000005dc | 00000001 0001 "t" 00000001 00000000 ${SET} | 00000000`),
    // Fluvio 0.18 writes the smartmodules at every version (0.11 from version 8; no client sends below).
    row("Produce request at version 7 (smartmodules at every version)", produceRequest, (w, v) => encodeProduceRequest(w, v, 7), (r) => decodeProduceRequest(r, 7), `00 | ffff | 000005dc | 00000001 0001 "t" 00000001 00000000 ${SET} | 00000000`),
    row<ProduceRequest>(
      "Produce request with a transactional id, read uncommitted",
      { ...produceRequest, transactionalId: "tx", isolation: "ReadUncommitted", topics: [] },
      (w, v) => encodeProduceRequest(w, v, V),
      (r) => decodeProduceRequest(r, V),
      '01 0002 "tx" | 0001 | 000005dc | 00000000 | 00000000',
    ),
    row("Produce response at version 23", produceResponse, (w, v) => encodeProduceResponse(w, v, V), (r) => decodeProduceResponse(r, V), '00000001 0001 "t" 00000001 00000000 0000 000000000000000a ffffffffffffffff 0000000000000000 | 00000000'),
    row(
      "Produce response at version 0",
      { ...produceResponse, responses: [{ name: "t", partitions: [{ ...produceResponse.responses[0]!.partitions[0]!, logAppendTimeMs: 0 }] }] },
      (w, v) => encodeProduceResponse(w, v, 0),
      (r) => decodeProduceResponse(r, 0),
      '00000001 0001 "t" 00000001 00000000 0000 000000000000000a',
    ),
    row("FetchOffsets request at version 23", fetchOffsetsRequest, (w, v) => encodeFetchOffsetsRequest(w, v, V), (r) => decodeFetchOffsetsRequest(r, V), '00000001 0001 "t" 00000001 00000000 | 00'),
    row("FetchOffsets request at version 22", fetchOffsetsRequest, (w, v) => encodeFetchOffsetsRequest(w, v, 22), (r) => decodeFetchOffsetsRequest(r, 22), '00000001 0001 "t" 00000001 00000000'),
    row("FetchOffsets response", fetchOffsetsResponse, encodeFetchOffsetsResponse, decodeFetchOffsetsResponse, '00000001 0001 "t" 00000001 | 0000 00000000 0000000000000000 0000000000000005'),
    // The three StreamFetch goldens are also Fluvio's own stream_fetch.rs test vectors.
    row("StreamFetch request at version 23 with a SmartModule", streamFetchRequest(23, [filter]), (w, v) => encodeStreamFetchRequest(w, v, 23), (r) => decodeStreamFetchRequest(r, 23), '0003 "one" 00000003 0000000000000000 00000000 00 | 00000001 01 00000004 deadbeef 00 0000 01 0000000000000001 00 | 00'),
    row("StreamFetch request at version 22 with a SmartModule", streamFetchRequest(22, [filter]), (w, v) => encodeStreamFetchRequest(w, v, 22), (r) => decodeStreamFetchRequest(r, 22), '0003 "one" 00000003 0000000000000000 00000000 00 | 00000001 01 00000004 deadbeef 00 0000 01 0000000000000001 00'),
    row("StreamFetch request at version 18 with legacy fields", streamFetchRequest(18, [filter]), (w, v) => encodeStreamFetchRequest(w, v, 18), (r) => decodeStreamFetchRequest(r, 18), '0003 "one" 00000003 0000000000000000 00000000 00 | 00000000 00 00 | 00000001 01 00000004 deadbeef 00 0000'),
    row("StreamFetch request at version 10", streamFetchRequest(10), (w, v) => encodeStreamFetchRequest(w, v, 10), (r) => decodeStreamFetchRequest(r, 10), '0003 "one" 00000003 0000000000000000 00000000 00'),
    row(
      "StreamFetch request as the real client consumes from the beginning",
      { ...streamFetchRequest(23), topic: "t", partition: 0, maxBytes: 1_048_588 },
      (w, v) => encodeStreamFetchRequest(w, v, 23),
      (r) => decodeStreamFetchRequest(r, 23),
      '0001 "t" 00000000 0000000000000000 0010000c 00 00000000 00',
    ),
    row("StreamFetch response at version 23", streamFetchResponse(23), (w, v) => encodeStreamFetchResponse(w, v, 23), (r) => decodeStreamFetchResponse(r, 23), `0001 "t" 00000000 | 00000000 0000 0000000000000002 0000000000000000 0000000000000000 00 | ${SET}`),
    row("StreamFetch response at version 10 (no next filter offset)", streamFetchResponse(10), (w, v) => encodeStreamFetchResponse(w, v, 10), (r) => decodeStreamFetchResponse(r, 10), `0001 "t" 00000000 | 00000000 0000 0000000000000002 0000000000000000 00 | ${SET}`),
    row<StreamFetchResponse>(
      "StreamFetch response with aborted transactions",
      { ...streamFetchResponse(23), partition: { ...streamFetchResponse(23).partition, aborted: [{ producerId: 1, firstOffset: 2 }], records: new Uint8Array(0) } },
      (w, v) => encodeStreamFetchResponse(w, v, 23),
      (r) => decodeStreamFetchResponse(r, 23),
      '0001 "t" 00000000 | 00000000 0000 0000000000000002 0000000000000000 0000000000000000 01 00000001 0000000000000001 0000000000000002 | 00000000',
    ),
    row("UpdateOffsets request", { offsets: [{ offset: 5, sessionId: 1 }] }, encodeUpdateOffsetsRequest, decodeUpdateOffsetsRequest, "00000001 0000000000000005 00000001"),
    row("UpdateOffsets response", { status: [{ sessionId: 1, errorCode: { code: "None" } }] }, encodeUpdateOffsetsResponse, decodeUpdateOffsetsResponse, "00000001 00000001 0000"),
  ];
  test.each(cases)("%s encodes to its golden bytes and back", (_name, write, read, value, golden) => {
    expect(hex(encoded(write))).toBe(hex(bytes(golden)));
    expect(decodedWhole(bytes(golden), read)).toEqual(value);
  });

  test("a whole Produce frame round-trips and its records are the batches, as views", () => {
    const frame = encodeRequest({ apiKey: SPU_API_KEY.produce, apiVersion: V, correlationId: 9, clientId: "fluvio" }, (w) =>
      encodeProduceRequest(w, produceRequest, V),
    );
    const { header, body } = decodeRequest(frame.subarray(4));
    const request = decodeProduceRequest(body, header.apiVersion);
    const records = request.topics[0]!.partitions[0]!.records;
    expect(records.buffer).toBe(frame.buffer);
    expect(scanBatches(records)).toHaveLength(1);
    expect(decodeBatches(records)[0]!.records[0]!.value).toEqual(bytes('"a"'));
  });

  test("a stream of StreamFetch answers shares one correlation id", () => {
    const frames = [1, 2].map(() => encodeResponse(4, (w) => encodeStreamFetchResponse(w, streamFetchResponse(V), V)));
    for (const frame of frames) {
      const { correlationId, body } = decodeResponse(frame.subarray(4));
      expect(correlationId).toBe(4);
      expect(decodeStreamFetchResponse(body, V).partition.highWatermark).toBe(2);
    }
  });

  const acks: [number, string][] = [[1, "ReadUncommitted"], [0, "ReadUncommitted"], [-1, "ReadCommitted"], [-5, "ReadCommitted"]];
  test.each(acks)("Produce acks %p decodes as %s", (value, isolation) => {
    const body = bytes(`00 ${((value + 0x10000) & 0xffff).toString(16).padStart(4, "0")} 00000000 00000000 00000000`);
    expect(decodeProduceRequest(new Reader(body), V).isolation).toBe(isolation as ProduceRequest["isolation"]);
  });

  const malformed: [string, string, (r: Reader) => unknown, string][] = [
    ["a Produce request with a negative timeout", "00 ffff ffffffff 00000000 00000000", (r) => decodeProduceRequest(r, V), "timeout -1 ms is negative"],
    ["a Produce request with a negative RecordSet length", '00 ffff 00000000 00000001 0001 "t" 00000001 00000000 ffffffff 00000000', (r) => decodeProduceRequest(r, V), "length -1 is negative"],
    ["a Produce request whose RecordSet overruns the frame", '00 ffff 00000000 00000001 0001 "t" 00000001 00000000 00001000 0000', (r) => decodeProduceRequest(r, V), "needs 4096 byte(s)"],
    ["a Produce request with 2^31 topics", "00 ffff 00000000 80000000 00000000", (r) => decodeProduceRequest(r, V), "count 2147483648 needs more"],
    ["a StreamFetch request with isolation 2", '0001 "t" 00000000 0000000000000000 00000000 02 00000000 00', (r) => decodeStreamFetchRequest(r, V), "unknown isolation tag 2"],
    ["a StreamFetch request cut short", '0001 "t" 00000000 00000000', (r) => decodeStreamFetchRequest(r, V), "cannot decode fetch offset at byte 7"],
    ["a SmartModule of unknown kind", "00 ffff 00000000 00000000 | 00000001 01 00000000 09 0000", (r) => decodeProduceRequest(r, V), "unknown SmartModule kind tag 9"],
  ];
  test.each(malformed)("rejects %s with FluvioDecodeError", (_name, input, read, message) => {
    expect(() => read(new Reader(bytes(input)))).toThrow(FluvioDecodeError);
    expect(() => read(new Reader(bytes(input)))).toThrow(message);
  });
});

describe("SmartModule invocations", () => {
  const kinds: SmartModuleKind[] = [
    { type: "Filter" },
    { type: "Map" },
    { type: "ArrayMap" },
    { type: "Aggregate", accumulator: bytes("0102") },
    { type: "FilterMap" },
    { type: "Join", topic: "other" },
    { type: "JoinStream", topic: "other", derivedStream: "ds" },
    { type: "Generic", context: { type: "None" } },
    { type: "Generic", context: { type: "Aggregate", accumulator: bytes("03") } },
    { type: "Generic", context: { type: "Join", topic: "j" } },
    { type: "Generic", context: { type: "JoinStream", topic: "j", derivedStream: "d" } },
  ];
  test.each(kinds.map((kind) => [JSON.stringify(kind), kind] as const))("kind %s round-trips at versions 18, 20 and 23", (_name, kind) => {
    for (const version of [18, 20, 23]) {
      const invocation: SmartModuleInvocation = {
        wasm: { type: "Predefined", name: "my-sm" },
        kind,
        params: {
          params: new Map([["key", "value"]]),
          lookback: version >= 20 ? { last: 10, age: version >= 21 ? { secs: 60, nanos: 5 } : null } : null,
        },
      };
      expect(decodedWhole(encoded((w) => encodeSmartModuleInvocation(w, invocation, version)), (r) => decodeSmartModuleInvocation(r, version))).toEqual(invocation);
    }
  });

  test("a predefined Generic SmartModule with a lookback age encodes to its golden bytes", () => {
    const invocation: SmartModuleInvocation = {
      wasm: { type: "Predefined", name: "sm" },
      kind: { type: "Generic", context: { type: "Join", topic: "j" } },
      params: { params: new Map([["a", "b"]]), lookback: { last: 2, age: { secs: 3, nanos: 4 } } },
    };
    const golden = bytes('00 0002 "sm" | 07 02 0001 "j" | 0001 0001 "a" 0001 "b" | 01 0000000000000002 01 0000000000000003 00000004');
    expect(hex(encoded((w) => encodeSmartModuleInvocation(w, invocation, 23)))).toBe(hex(golden));
    expect(decodedWhole(golden, (r) => decodeSmartModuleInvocation(r, 23))).toEqual(invocation);
  });
});
