/**
 * The frames Fluvio's Python client 0.21.0 (Fluvio 0.17.3) sent an SPU for a named consumer
 * (tests/fixtures/fluvio-python, captured by its capture.ts): each decodes with this codec to
 * what the client asked, and encodes back to the same bytes.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SPU_API_KEY } from "../../../../lib/engine/wire/fluvio/api-keys.ts";
import {
  decodeFetchConsumerOffsetsRequest,
  decodeUpdateConsumerOffsetRequest,
  encodeFetchConsumerOffsetsRequest,
  encodeUpdateConsumerOffsetRequest,
} from "../../../../lib/engine/wire/fluvio/consumer-offsets.ts";
import { decodeRequest, encodeRequest } from "../../../../lib/engine/wire/fluvio/framing.ts";
import { decodeStreamFetchRequest, encodeStreamFetchRequest } from "../../../../lib/engine/wire/fluvio/stream-fetch.ts";
import type { Reader } from "../../../../lib/engine/wire/fluvio/reader.ts";
import type { Writer } from "../../../../lib/engine/wire/fluvio/writer.ts";
import { parseHexFixture } from "../../../fixtures/fluvio/hex-fixture.ts";

const FIXTURES = join(import.meta.dir, "..", "..", "..", "fixtures", "fluvio-python");
/** The version Python 0.21.0 sends these at: its SPU default (fluvio-spu-schema COMMON_VERSION at 0.17.3). */
const CLIENT_VERSION = 24;

interface Case<T> {
  name: string;
  apiKey: number;
  decode: (reader: Reader, version: number) => T;
  encode: (writer: Writer, value: T, version: number) => void;
  expected: unknown;
}

const CASES: Case<any>[] = [
  {
    name: "fetch-consumer-offsets",
    apiKey: SPU_API_KEY.fetchConsumerOffsets,
    decode: decodeFetchConsumerOffsetsRequest,
    encode: encodeFetchConsumerOffsetsRequest,
    expected: { filters: { replica: { topic: "capture", partition: 0 }, consumerId: "capture-reader" } },
  },
  {
    name: "stream-fetch-consumer",
    apiKey: SPU_API_KEY.streamFetch,
    decode: decodeStreamFetchRequest,
    encode: encodeStreamFetchRequest,
    expected: { topic: "capture", partition: 0, fetchOffset: 0, smartModules: [], consumerId: "capture-reader" },
  },
  {
    name: "update-consumer-offset",
    apiKey: SPU_API_KEY.updateConsumerOffset,
    decode: (reader) => decodeUpdateConsumerOffsetRequest(reader),
    encode: (writer, value) => encodeUpdateConsumerOffsetRequest(writer, value),
    // The last record read (offset 1), on the stream the SPU numbered 1.
    expected: { offset: 1, sessionId: 1 },
  },
];

describe("Python client 0.21.0's consumer-offset frames", () => {
  test.each(CASES.map((entry) => [entry.name, entry] as const))("%s decodes to what the client asked and encodes back to its bytes", (_name, entry) => {
    const frame = parseHexFixture(readFileSync(join(FIXTURES, `${entry.name}.hex`), "utf8"));
    const { header, body } = decodeRequest(frame.subarray(4));
    expect({ apiKey: header.apiKey, apiVersion: header.apiVersion, clientId: header.clientId }).toEqual({ apiKey: entry.apiKey, apiVersion: CLIENT_VERSION, clientId: "fluvio" });
    const value = entry.decode(body, header.apiVersion);
    expect(body.remaining).toBe(0);
    expect(value).toMatchObject(entry.expected as object);
    const again = encodeRequest(header, (writer) => entry.encode(writer, value, header.apiVersion));
    expect(Buffer.from(again).toString("hex")).toBe(Buffer.from(frame).toString("hex"));
  });
});
