/**
 * Named consumers on a real cluster of three SPUs, so most streams are served by an SPU that
 * does not keep the offsets (their commits are forwarded to the consumer-offset partition's
 * leader): `consume --consumer` goes on where the last run stopped, `consumer list` and
 * `consumer delete` show and reset it, and the offsets survive a shutdown and resume, and the
 * kill -9 of the SPU keeping them (replication 1, as Fluvio makes the topic: it is waited for,
 * then resumed).
 */
import { describe, expect, test } from "bun:test";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { formatAge, formatConsumerList } from "../../lib/commands/consumer.ts";
import { portLayout } from "../../lib/cluster/spec.ts";
import { SPU_API_KEY } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { decodeDeleteConsumerOffsetResponse, decodeFetchConsumerOffsetsResponse, encodeDeleteConsumerOffsetRequest, encodeFetchConsumerOffsetsRequest } from "../../lib/engine/wire/fluvio/consumer-offsets.ts";
import { decodeFetchOffsetsResponse, encodeFetchOffsetsRequest } from "../../lib/engine/wire/fluvio/fetch-offsets.ts";
import { encodeRequest } from "../../lib/engine/wire/fluvio/framing.ts";
import type { Writer } from "../../lib/engine/wire/fluvio/writer.ts";
import { ok, pollUntil } from "../cluster-data.ts";
import { apiVersionsRequest, openRaw } from "../fluvio-raw.ts";
import { cli, CLI, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(32000);
const TEST_TIMEOUT_MS = 120_000;
const lines = (from: number, to: number, prefix: string) => Array.from({ length: to - from }, (_, index) => `${prefix}${from + index}`);

/** A cluster of three SPUs with topic `orders` of three partitions, each holding `r0`..`r4`; with the SPU that keeps the offsets. */
async function clusterWithOrders(): Promise<{ home: string; portBase: number; offsetsLeader: number; leaders: number[] }> {
  const home = tempHome();
  const portBase = nextPortBase();
  await ok(home, ["create", "--spus", "3", "--port-base", String(portBase)]);
  await ok(home, ["topic", "create", "orders", "--partitions", "3"]);
  for (const partition of [0, 1, 2]) await ok(home, ["produce", "orders", "--partition", String(partition)], `${lines(0, 5, "r").join("\n")}\n`);
  const system = (await ok(home, ["topic", "list", "--system", "--json"])).json;
  const offsetsLeader = system.find((topic: any) => topic.name === "consumer-offset").placement[0].leader;
  const orders = (await ok(home, ["topic", "list", "--json"])).json.find((topic: any) => topic.name === "orders");
  return { home, portBase, offsetsLeader, leaders: orders.placement.map((entry: any) => entry.leader) };
}

async function consumeAs(home: string, consumer: string, partition: number): Promise<string[]> {
  const { stdout } = await ok(home, ["consume", "orders", "-B", "-d", "--partition", String(partition), "--consumer", consumer]);
  return stdout === "" ? [] : stdout.trimEnd().split("\n");
}

async function offsetsOf(home: string): Promise<[string, string, number, number][]> {
  return (await ok(home, ["consumer", "list", "--json"])).json.map((entry: any) => [entry.consumer, entry.topic, entry.partition, entry.offset]);
}

describe("named consumers", () => {
  test(
    "consume --consumer goes on where the last run stopped on every partition, whichever SPU serves it; list shows the offsets and delete starts one over",
    async () => {
      const { home, offsetsLeader, leaders } = await clusterWithOrders();
      expect(leaders.some((leader) => leader !== offsetsLeader)).toBe(true);

      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual(lines(0, 5, "r"));
      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual([]);
      for (const partition of [0, 1, 2]) await ok(home, ["produce", "orders", "--partition", String(partition)], "more5\nmore6\n");
      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual(["more5", "more6"]);
      // Another consumer has offsets of its own; one without --consumer changes nothing.
      expect(await consumeAs(home, "audit", 1)).toEqual([...lines(0, 5, "r"), "more5", "more6"]);
      await ok(home, ["consume", "orders", "-B", "-d", "--partition", "2"]);
      expect(await offsetsOf(home)).toEqual([
        ["audit", "orders", 1, 6],
        ["billing", "orders", 0, 6],
        ["billing", "orders", 1, 6],
        ["billing", "orders", 2, 6],
      ]);
      const table = (await ok(home, ["consumer", "list"])).stdout;
      expect(table.split("\n")[0]).toMatch(/^CONSUMER\s+TOPIC\s+PARTITION\s+OFFSET\s+LAST SEEN$/);
      expect(table).toMatch(/billing\s+orders\s+2\s+6\s+\d+s ago/);

      expect((await ok(home, ["consumer", "delete", "billing", "--topic", "orders", "--partition", "0", "--json"])).json.deleted).toMatchObject([{ consumer: "billing", partition: 0, offset: 6 }]);
      expect(await consumeAs(home, "billing", 0)).toEqual([...lines(0, 5, "r"), "more5", "more6"]);
      await ok(home, ["consumer", "delete", "audit"]);
      expect((await offsetsOf(home)).map(([consumer]) => consumer)).toEqual(["billing", "billing", "billing"]);
      const missing = await cli(home, ["consumer", "delete", "audit", "--json"]);
      expect({ exitCode: missing.exitCode, code: missing.json.error.code, hint: missing.json.error.hint }).toEqual({
        exitCode: 1,
        code: "NO_CONSUMER",
        hint: "'cluster consumer list --name local' shows the consumers and their offsets",
      });

      // As in Fluvio, a deleted topic's offsets go with it: a topic made again under its name starts fresh.
      await ok(home, ["topic", "delete", "orders"]);
      await pollUntil("the offsets of 'orders' to go", () => offsetsOf(home), (offsets) => offsets.length === 0);
      await ok(home, ["topic", "create", "orders"]);
      await ok(home, ["produce", "orders"], "new0\n");
      expect(await consumeAs(home, "billing", 0)).toEqual(["new0"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a continuous consume --consumer commits each answer it printed, so one stopped by SIGINT is gone on from by the next",
    async () => {
      const { home } = await clusterWithOrders();
      const consumer = Bun.spawn([process.execPath, CLI, "consume", "orders", "-B", "--partition", "1", "--consumer", "tail"], {
        env: { ...process.env, CLUSTER_HOME: home },
        stdout: "pipe",
        stderr: "pipe",
      });
      try {
        const printed: string[] = [];
        const reader = consumer.stdout.getReader();
        while (printed.length < 5) printed.push(...Buffer.from((await reader.read()).value!).toString().trimEnd().split("\n"));
        expect(printed).toEqual(lines(0, 5, "r"));
        await pollUntil("the consumer to commit offset 4", () => offsetsOf(home), (offsets) => offsets.some(([name, , , offset]) => name === "tail" && offset === 4));
        consumer.kill("SIGINT");
        expect(await consumer.exited).toBe(0);
      } finally {
        consumer.kill("SIGKILL");
      }
      await ok(home, ["produce", "orders", "--partition", "1"], "later\n");
      expect(await consumeAs(home, "tail", 1)).toEqual(["later"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the offsets are kept across a shutdown and resume, and across the kill -9 of the SPU keeping them, which is waited for and resumed",
    async () => {
      const { home, offsetsLeader, leaders } = await clusterWithOrders();
      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual(lines(0, 5, "r"));
      const kept = await offsetsOf(home);
      expect(kept).toEqual([0, 1, 2].map((partition) => ["billing", "orders", partition, 4]));

      await ok(home, ["shutdown"]);
      await ok(home, ["resume"]);
      expect(await offsetsOf(home)).toEqual(kept);
      for (const partition of [0, 1, 2]) await ok(home, ["produce", "orders", "--partition", String(partition)], "after-resume\n");
      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual(["after-resume"]);

      const { pid } = readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "spu" && entry.id === offsetsLeader)!;
      process.kill(pid, "SIGKILL");
      // One replica, as Fluvio makes the topic: no other SPU holds the offsets, so they wait for it.
      const away = await pollUntil(
        "the commit to fail while the SPU keeping the offsets is down",
        () => cli(home, ["consume", "orders", "-B", "-d", "--partition", String(leaders.findIndex((leader) => leader !== offsetsLeader)), "--consumer", "billing", "--json"]),
        (result) => result.exitCode !== 0,
      );
      expect(away.json.error).toMatchObject({ code: "SPU_UNREACHABLE", message: expect.stringContaining(`SPU ${offsetsLeader}, which keeps the consumer offsets`) });
      expect(away.json.error.hint).toContain("cluster resume --name local");
      await ok(home, ["resume"]);
      expect(await offsetsOf(home)).toEqual([0, 1, 2].map((partition) => ["billing", "orders", partition, 5]));
      for (const partition of [0, 1, 2]) await ok(home, ["produce", "orders", "--partition", String(partition)], "after-kill\n");
      for (const partition of [0, 1, 2]) expect(await consumeAs(home, "billing", partition)).toEqual(["after-kill"]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("the consumer-offset keys on the wire", () => {
  test(
    "FetchOffsets v23 with a consumer id starts one past its committed offset (as Fluvio 0.11.11's SPU answers, on any SPU), and an SPU not keeping the offsets answers list and delete with PartitionNotLeader",
    async () => {
      const { home, portBase, offsetsLeader, leaders } = await clusterWithOrders();
      for (const partition of [0, 1, 2]) await consumeAs(home, "billing", partition);
      await ok(home, ["produce", "orders", "--partition", "0"], "r5\nr6\n");
      const layout = portLayout(portBase, 3);
      const publicPortOf = (spu: number) => layout.spus[spu - 5001]!.publicPort;
      const request = (apiKey: number, apiVersion: number, correlationId: number, write: (writer: Writer) => void) =>
        encodeRequest({ apiKey, apiVersion, correlationId, clientId: "offsets" }, write);

      for (const partition of [0, 1, 2]) {
        const connection = await openRaw(publicPortOf(leaders[partition]!));
        connection.write(apiVersionsRequest(1, "offsets"));
        const fetch = (correlationId: number, consumerId: string | null) =>
          request(SPU_API_KEY.fetchOffsets, 23, correlationId, (w) => encodeFetchOffsetsRequest(w, { topics: [{ name: "orders", partitions: [{ partitionIndex: partition }] }], consumerId }, 23));
        connection.write(fetch(2, "billing"));
        connection.write(fetch(3, "nobody"));
        for (const id of [2, 3]) expect(await connection.settle(id)).toEqual({ answered: true, closed: false });
        const answerTo = (id: number) => decodeFetchOffsetsResponse(connection.answers.get(id)!).topics[0]!.partitions[0];
        expect({ partition, billing: answerTo(2), nobody: answerTo(3) }).toMatchObject({
          partition,
          billing: { errorCode: { code: "None" }, startOffset: 5, lastStableOffset: partition === 0 ? 7 : 5 },
          nobody: { errorCode: { code: "None" }, startOffset: 0 },
        });
        connection.end();
      }

      const elsewhere = [5001, 5002, 5003].find((spu) => spu !== offsetsLeader)!;
      const connection = await openRaw(publicPortOf(elsewhere));
      connection.write(apiVersionsRequest(1, "offsets"));
      connection.write(request(SPU_API_KEY.fetchConsumerOffsets, 25, 2, (w) => encodeFetchConsumerOffsetsRequest(w, { filters: null }, 25)));
      connection.write(request(SPU_API_KEY.deleteConsumerOffset, 25, 3, (w) => encodeDeleteConsumerOffsetRequest(w, { replica: { topic: "orders", partition: 0 }, consumerId: "billing" })));
      for (const id of [2, 3]) expect(await connection.settle(id)).toEqual({ answered: true, closed: false });
      expect(decodeFetchConsumerOffsetsResponse(connection.answers.get(2)!)).toEqual({ errorCode: { code: "PartitionNotLeader" }, consumers: [] });
      expect(decodeDeleteConsumerOffsetResponse(connection.answers.get(3)!)).toEqual({ errorCode: { code: "PartitionNotLeader" } });
      connection.end();
      expect((await offsetsOf(home)).length).toBe(3);

      // A body cut short closes that connection alone, as Fluvio's SPU does; the SPU serves on.
      for (const apiKey of [SPU_API_KEY.updateConsumerOffset, SPU_API_KEY.deleteConsumerOffset, SPU_API_KEY.fetchOffsets, SPU_API_KEY.produce]) {
        const broken = await openRaw(publicPortOf(offsetsLeader));
        broken.write(request(apiKey, 25, 1, (w) => w.u8(1)));
        expect({ apiKey, closed: await broken.closedWithin(5_000) }).toEqual({ apiKey, closed: true });
      }
      expect((await offsetsOf(home)).length).toBe(3);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("formatConsumerList()", () => {
  test("formatConsumerList() prints one row per offset with how long ago it was committed", () => {
    const now = 1_000_000;
    expect(
      formatConsumerList(
        [
          { consumer: "billing", topic: "orders", partition: 0, offset: 41, modifiedTime: now - 5 },
          { consumer: "audit-long-name", topic: "o", partition: 12, offset: 7, modifiedTime: now - 3_725 },
        ],
        now,
      ),
    ).toBe(
      [
        "CONSUMER         TOPIC   PARTITION  OFFSET  LAST SEEN",
        "billing          orders  0          41      5s ago",
        "audit-long-name  o       12         7       1h 2m ago",
      ].join("\n"),
    );
    expect(formatConsumerList([])).toBe("no consumers");
  });

  test.each([
    [0, "0s"],
    [59, "59s"],
    [60, "1m"],
    [61, "1m 1s"],
    [3_600, "1h"],
    [90_061, "1d 1h"],
  ])("formatAge() of %p seconds ago is %p", (ago, shown) => {
    expect(formatAge(1_000_000 - ago, 1_000_000)).toBe(shown);
  });
});
