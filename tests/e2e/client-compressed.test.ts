/**
 * Compressed batches a real client made (tests/fixtures/compressed: the Python client fluvio
 * 0.21.0, one fixture per codec, see capture.ts there): `cluster consume` (lib/fluvio's decoding)
 * reads each one's records, and the SPUs store and serve each unchanged but for its base offset:
 * what a StreamFetch answers, and what every replica's segment file holds, are the client's
 * bytes. The real Node client reads them back too.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { partitionLeader, RecordStream } from "../../lib/fluvio/admin.ts";
import { FluvioConnection } from "../../lib/fluvio/fluvio-connection.ts";
import { SPU_API_KEY, SPU_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { CODECS, type Codec } from "../../lib/engine/wire/fluvio/compression.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../../lib/engine/wire/fluvio/produce.ts";
import { decodeBatches, scanBatches, setBatchBaseOffset } from "../../lib/engine/wire/fluvio/record-batch.ts";
import { atSpu, ok, partitionDir } from "../cluster-data.ts";
import { parseHexFixture } from "../fixtures/fluvio/hex-fixture.ts";
import { fixtureRecords } from "../fixtures/compressed/records.ts";
import { loadFluvioClient } from "../fluvio-client.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(29600);
const TEST_TIMEOUT_MS = 60_000;

function fixture(codec: Codec): Uint8Array {
  return parseHexFixture(readFileSync(join(import.meta.dir, "..", "fixtures", "compressed", `${codec}.hex`), "utf8"));
}

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString());

describe("the Python client's compressed batches (fixtures)", () => {
  test.each(CODECS)("the %p fixture is compressed with its codec and decodes to the records the client was given", (codec) => {
    const batches = fixture(codec);
    expect(scanBatches(batches).map((batch) => batch.compression)).toEqual([CODECS.indexOf(codec) + 1]);
    const records = decodeBatches(batches).flatMap((batch) => batch.records);
    const expected = fixtureRecords(codec);
    expect(records.map((record) => text(record.value))).toEqual(expected.map((record) => record.value));
    // The client sends an unkeyed record with an empty key.
    expect(records.map((record) => text(record.key) || null)).toEqual(expected.map((record) => record.key));
    // The values are the codec's to hold: the batch does not carry them as text.
    expect(Buffer.from(batches).includes(Buffer.from("again and again, the same words"))).toBe(false);
  });
});

describe("compressed batches from a real client on a cluster", () => {
  test(
    "each codec's fixture, produced as the client sent it, is read by `cluster consume` and served and stored byte for byte on every replica",
    async () => {
      const home = tempHome();
      await ok(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())]);
      await ok(home, ["topic", "create", "from-client", "--replication", "2"]);
      const { cluster } = atSpu(home, 5001);
      const leader = await partitionLeader(cluster, "from-client", 0);

      // Each fixture as the Produce request the client sent carried it; the SPU sets its base offset.
      const connection = await FluvioConnection.open(leader.address, 5_000);
      const stored: Uint8Array[] = [];
      let offset = 0;
      try {
        for (const codec of CODECS) {
          const batches = fixture(codec);
          const body = await connection.request(
            SPU_API_KEY.produce,
            SPU_VERSION,
            (writer) =>
              encodeProduceRequest(
                writer,
                {
                  transactionalId: null,
                  isolation: "ReadCommitted",
                  timeoutMs: 10_000,
                  topics: [{ name: "from-client", partitions: [{ partitionIndex: 0, records: batches }] }],
                  smartModules: [],
                },
                SPU_VERSION,
              ),
            { timeoutMs: 15_000 },
          );
          const answer = decodeProduceResponse(body, SPU_VERSION).responses[0]!.partitions[0]!;
          expect([codec, answer.errorCode.code, answer.baseOffset]).toEqual([codec, "None", offset]);
          const expected = Uint8Array.from(batches);
          setBatchBaseOffset(expected, 0, offset);
          stored.push(expected);
          offset += fixtureRecords(codec).length;
        }
      } finally {
        connection.close();
      }
      const values = CODECS.flatMap((codec) => fixtureRecords(codec).map((record) => record.value));
      expect((await ok(home, ["consume", "from-client", "-B", "-d"])).stdout).toBe(`${values.join("\n")}\n`);
      // From inside the third batch: the records below the offset asked for are skipped.
      expect((await ok(home, ["consume", "from-client", "--offset", "16", "-d"])).stdout).toBe(`${values.slice(16).join("\n")}\n`);

      // What a StreamFetch answers: the stored batches, unopened.
      const served: Uint8Array[] = [];
      const stream = await RecordStream.open(cluster, "from-client", leader, 0, 1 << 20);
      try {
        for (let next = 0; next < offset; ) {
          const answer = await stream.next(10_000);
          if (!answer) throw new Error(`the stream sent nothing after offset ${next}`);
          served.push(answer.batches);
          next = answer.nextOffset;
        }
      } finally {
        stream.close();
      }
      expect(Buffer.concat(served)).toEqual(Buffer.concat(stored));

      // The real client (Fluvio's Rust client through its Node binding) decompresses all four.
      const client = await loadFluvioClient().connect(`127.0.0.1:${cluster.spec.sc.publicPort}`);
      const records = await (await client.partitionConsumer("from-client", 0)).createStream({ index: 0, from: "beginning" });
      const read: string[] = [];
      while (read.length < values.length) read.push((await records.next()).value!.valueString());
      expect(read).toEqual(values);

      await ok(home, ["shutdown"]);
      for (const spu of [5001, 5002]) {
        const dir = partitionDir(home, spu, "from-client");
        const segment = readFileSync(join(dir, readdirSync(dir).find((file) => file.endsWith(".log"))!));
        expect([spu, Buffer.compare(segment, Buffer.concat(stored))]).toEqual([spu, 0]);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
