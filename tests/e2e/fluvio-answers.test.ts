/**
 * What the public ports answer that Fluvio's newer clients send, end to end with real processes
 * and raw TCP: the keys Fluvio's servers serve and ours do not (SC 1005 Mirroring; SPU
 * 1006-1008, the consumer offsets) and an Update (SC 1006) the SC refuses get Fluvio's
 * error-shaped answers, and requests above the advertised ranges are served at their own
 * version, as Fluvio's servers do. Each is sent on a connection that already carries a stream
 * (a Watch to the SC, a StreamFetch to the SPU), and the stream must go on delivering on that
 * same connection.
 */
import { describe, expect, test } from "bun:test";
import { portLayout } from "../../lib/cluster/spec.ts";
import { SC_API_KEY, SC_OBJECT_VERSION, SPU_API_KEY, SPU_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import {
  decodeDeleteConsumerOffsetResponse,
  decodeFetchConsumerOffsetsResponse,
  decodeUpdateConsumerOffsetResponse,
  encodeDeleteConsumerOffsetRequest,
  encodeFetchConsumerOffsetsRequest,
  encodeUpdateConsumerOffsetRequest,
} from "../../lib/engine/wire/fluvio/consumer-offsets.ts";
import { decodeFetchOffsetsResponse, encodeFetchOffsetsRequest } from "../../lib/engine/wire/fluvio/fetch-offsets.ts";
import { encodeRequest } from "../../lib/engine/wire/fluvio/framing.ts";
import { decodeListResponse, decodeStatus, decodeWatchResponse, encodeListRequest, encodeTypeBuffer, encodeWatchRequest } from "../../lib/engine/wire/fluvio/object-api.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../../lib/engine/wire/fluvio/produce.ts";
import { decodeBatches, encodeBatches, recordBatch } from "../../lib/engine/wire/fluvio/record-batch.ts";
import { decodeStreamFetchResponse, encodeStreamFetchRequest } from "../../lib/engine/wire/fluvio/stream-fetch.ts";
import type { Writer } from "../../lib/engine/wire/fluvio/writer.ts";
import { ok } from "../cluster-data.ts";
import { apiVersionsRequest, openRaw } from "../fluvio-raw.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(28800);
/** NOTE: given here, not left to tests/setup.ts (see fluvio-bad-input.test.ts). */
const TEST_TIMEOUT_MS = 60_000;
const CLIENT_ID = "answers";
const TOPIC = "steady";
/** Above every range either server advertises, as a client of a later Fluvio may send. */
const FUTURE_VERSION = 30;

function request(apiKey: number, apiVersion: number, correlationId: number, writeBody: (writer: Writer) => void): Buffer {
  return encodeRequest({ apiKey, apiVersion, correlationId, clientId: CLIENT_ID }, writeBody);
}

async function cluster() {
  const home = tempHome();
  const portBase = nextPortBase();
  await ok(home, ["create", "--spus", "1", "--port-base", String(portBase)]);
  await ok(home, ["topic", "create", TOPIC]);
  return { home, layout: portLayout(portBase, 1) };
}

describe("keys and versions Fluvio's servers answer", () => {
  test("the SC answers Mirroring and an Update of a missing topic with an error Status and a List and a Watch above its range at their version, and a Watch on the same connection goes on", async () => {
    const { home, layout } = await cluster();
    const connection = await openRaw(layout.sc.publicPort);
    connection.write(apiVersionsRequest(1, CLIENT_ID));
    connection.write(request(SC_API_KEY.watch, SC_OBJECT_VERSION, 2, (w) => encodeWatchRequest(w, { type: "Topic", epoch: 0, summary: false }, SC_OBJECT_VERSION)));
    expect(await connection.settle(2)).toEqual({ answered: true, closed: false });

    connection.write(request(SC_API_KEY.mirroring, SC_OBJECT_VERSION, 3, (w) => encodeTypeBuffer(w, "MirrorConnect", SC_OBJECT_VERSION, (x) => x.string("edge-1"))));
    // Fluvio's `topic add-partition` of a topic that does not exist: its name, then AddPartition (tag 0) of 2.
    connection.write(
      request(SC_API_KEY.update, SC_OBJECT_VERSION, 4, (w) =>
        encodeTypeBuffer(w, "Topic", SC_OBJECT_VERSION, (x) => {
          x.string("absent");
          x.u8(0);
          x.u32(2);
        }),
      ),
    );
    connection.write(request(SC_API_KEY.list, FUTURE_VERSION, 5, (w) => encodeListRequest(w, { type: "SPU", nameFilters: [], summary: false, system: false }, FUTURE_VERSION)));
    connection.write(request(SC_API_KEY.watch, FUTURE_VERSION, 6, (w) => encodeWatchRequest(w, { type: "Topic", epoch: 0, summary: false }, FUTURE_VERSION)));
    for (const correlationId of [3, 4, 5, 6]) expect(await connection.settle(correlationId)).toEqual({ answered: true, closed: false });

    const mirroring = decodeStatus(connection.answers.get(3)!);
    expect(mirroring).toMatchObject({ name: "edge-1", errorCode: { code: "Other" } });
    expect(mirroring.errorMessage).toContain("not supported");
    const update = decodeStatus(connection.answers.get(4)!);
    expect(update).toEqual({ name: "absent", errorCode: { code: "TopicNotFound" }, errorMessage: "not found" });
    expect(decodeListResponse(connection.answers.get(5)!, FUTURE_VERSION)).toMatchObject({ type: "SPU", items: [{ spec: { id: 5001 } }] });
    // Fluvio's Watch carries system topics too (services/public_api/watch.rs filters none): clients find consumer-offset there.
    expect(decodeWatchResponse(connection.answers.get(6)!, FUTURE_VERSION).all.map((item) => item.name).sort()).toEqual(["consumer-offset", TOPIC]);

    await ok(home, ["topic", "create", "later"]);
    expect(await connection.settle(2, 10_000, 2)).toEqual({ answered: true, closed: false });
    const change = decodeWatchResponse(connection.answersTo(2)[1]!, SC_OBJECT_VERSION);
    expect([...change.changes.map((entry) => entry.metadata.name), ...change.all.map((item) => item.name)]).toContain("later");
    connection.end();
  }, TEST_TIMEOUT_MS);

  test("an SPU answers the consumer-offset keys as Fluvio's SPU (an unknown stream's commit with FetchSessionNotFound) and a StreamFetch, FetchOffsets and Produce above its range at their version, and a StreamFetch on the same connection goes on", async () => {
    const { layout } = await cluster();
    const connection = await openRaw(layout.spus[0]!.publicPort);
    const streamFetch = (version: number) => (w: Writer) =>
      encodeStreamFetchRequest(
        w,
        { topic: TOPIC, partition: 0, fetchOffset: 0, maxBytes: 1 << 20, isolation: "ReadUncommitted", wasmModule: new Uint8Array(0), smartModule: null, derivedStream: null, smartModules: [], consumerId: null },
        version,
      );
    connection.write(apiVersionsRequest(1, CLIENT_ID));
    expect(await connection.settle(1)).toEqual({ answered: true, closed: false });
    connection.write(request(SPU_API_KEY.streamFetch, SPU_VERSION, 2, streamFetch(SPU_VERSION)));

    connection.write(request(SPU_API_KEY.updateConsumerOffset, SPU_VERSION, 3, (w) => encodeUpdateConsumerOffsetRequest(w, { offset: 1, sessionId: 4242 })));
    connection.write(
      request(SPU_API_KEY.deleteConsumerOffset, SPU_VERSION, 4, (w) => encodeDeleteConsumerOffsetRequest(w, { replica: { topic: TOPIC, partition: 0 }, consumerId: "reader" })),
    );
    connection.write(
      request(SPU_API_KEY.fetchConsumerOffsets, FUTURE_VERSION, 5, (w) =>
        encodeFetchConsumerOffsetsRequest(w, { filters: { replica: null, consumerId: "reader" } }, FUTURE_VERSION),
      ),
    );
    connection.write(request(SPU_API_KEY.streamFetch, FUTURE_VERSION, 6, streamFetch(FUTURE_VERSION)));
    connection.write(
      request(SPU_API_KEY.fetchOffsets, FUTURE_VERSION, 7, (w) => encodeFetchOffsetsRequest(w, { topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }], consumerId: null }, FUTURE_VERSION)),
    );
    for (const correlationId of [3, 4, 5, 7]) expect(await connection.settle(correlationId)).toEqual({ answered: true, closed: false });
    expect(decodeUpdateConsumerOffsetResponse(connection.answers.get(3)!)).toEqual({ offset: 0, errorCode: { code: "FetchSessionNotFound" } });
    // The one SPU leads consumer-offset-0: a delete of an offset never kept succeeds, as in Fluvio.
    expect(decodeDeleteConsumerOffsetResponse(connection.answers.get(4)!)).toEqual({ errorCode: { code: "None" } });
    expect(decodeFetchConsumerOffsetsResponse(connection.answers.get(5)!)).toEqual({ errorCode: { code: "None" }, consumers: [] });
    expect(decodeFetchOffsetsResponse(connection.answers.get(7)!).topics[0]!.partitions[0]).toMatchObject({ errorCode: { code: "None" }, startOffset: 0, lastStableOffset: 0 });

    const batches = encodeBatches([recordBatch(["one", "two"].map((value) => ({ key: null, value: Buffer.from(value) })), { firstTimestamp: Date.now() })]);
    connection.write(
      request(SPU_API_KEY.produce, FUTURE_VERSION, 8, (w) =>
        encodeProduceRequest(
          w,
          { transactionalId: null, isolation: "ReadUncommitted", timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, records: batches }] }], smartModules: [] },
          FUTURE_VERSION,
        ),
      ),
    );
    expect(await connection.settle(8)).toEqual({ answered: true, closed: false });
    expect(decodeProduceResponse(connection.answers.get(8)!, FUTURE_VERSION).responses[0]!.partitions[0]).toMatchObject({ errorCode: { code: "None" }, baseOffset: 0 });

    // Both streams deliver the two records, each at its own version.
    for (const [correlationId, version] of [
      [2, SPU_VERSION],
      [6, FUTURE_VERSION],
    ] as const) {
      expect(await connection.settle(correlationId, 10_000)).toEqual({ answered: true, closed: false });
      const answer = decodeStreamFetchResponse(connection.answers.get(correlationId)!, version);
      expect(answer.partition.errorCode).toEqual({ code: "None" });
      const values = decodeBatches(answer.partition.records).flatMap((batch) => batch.records.map((record) => Buffer.from(record.value).toString()));
      expect(values).toEqual(["one", "two"]);
    }
    connection.end();
  }, TEST_TIMEOUT_MS);
});
