/**
 * `topic add-partition` end to end, on real clusters the CLI made: the SC adds partitions with
 * the topic's replication, placed as a create places them, and they take records at once; the
 * partitions before keep theirs; all of it stays through shutdown and resume, and Fluvio's own
 * client sees the new partitions. What the SC refuses is refused with the fix named.
 */
import { describe, expect, test } from "bun:test";
import { cli, portBlocks, tempHome } from "../helpers.ts";
import { ok, waitForStatus } from "../cluster-data.ts";
import { decodeList, loadFluvioClient, type FluvioClient } from "../fluvio-client.ts";
import { apiVersionsRequest, openRaw } from "../fluvio-raw.ts";
import { portLayout } from "../../lib/cluster/spec.ts";
import { SC_API_KEY, SC_OBJECT_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { encodeRequest } from "../../lib/engine/wire/fluvio/framing.ts";
import { decodeStatus, encodeTypeBuffer, encodeUpdateRequest, type UpdateRequest } from "../../lib/engine/wire/fluvio/object-api.ts";

const nextPortBase = portBlocks(32200);
const TEST_TIMEOUT_MS = 60_000;
/** How long the real client's stream may take to deliver a record before the test names a hang. */
const RECORD_DEADLINE_MS = 15_000;

async function createCluster(spus: number, portBase = nextPortBase()): Promise<string> {
  const home = tempHome();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(portBase)]);
  return home;
}

/** Waits until the SC reports every partition of `topic` online, `count` of them. */
function partitionsOnline(home: string, topic: string, count: number): Promise<any> {
  return waitForStatus(home, (status) => {
    const partitions = status.partitions.filter((partition: any) => partition.topic === topic);
    return partitions.length === count && partitions.every((partition: any) => partition.online);
  });
}

async function consumed(home: string, topic: string, partition: number): Promise<string> {
  return (await ok(home, ["consume", topic, "--partition", String(partition), "-B", "-d"])).stdout;
}

/** The first `count` values of `topic` partition `partition`, from the beginning, through the real client's stream. */
async function readWithFluvio(client: FluvioClient, topic: string, partition: number, count: number): Promise<string[]> {
  const stream = await (await client.partitionConsumer(topic, partition)).createStream({ index: 0, from: "beginning" });
  const values: string[] = [];
  while (values.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gave up waiting for record ${values.length} of '${topic}' partition ${partition}`)), RECORD_DEADLINE_MS);
    });
    const item = await Promise.race([stream.next(), deadline]).finally(() => clearTimeout(timer));
    if (item.done || !item.value) throw new Error(`the stream of '${topic}' partition ${partition} ended after ${values.length} records`);
    values.push(item.value.valueString());
  }
  return values;
}

describe("topic add-partition", () => {
  test(
    "adds 2 partitions at replication 2 on 3 SPUs; a new partition takes records and gives them back, the old one keeps its own, Fluvio's client sees them, and all of it stays through shutdown and resume",
    async () => {
      const home = await createCluster(3);
      await ok(home, ["topic", "create", "events", "--replication", "2"]);
      await ok(home, ["produce", "events"], "old-a\nold-b\nold-c\n");

      const added = await ok(home, ["topic", "add-partition", "events", "--count", "2"]);
      expect(added.stdout).toContain("added 2 partition(s) to topic 'events': now 3 partition(s), replication 2");
      expect(added.stdout).toMatch(/PARTITION\s+LEADER\s+REPLICAS\n1\s+5002\s+5002,5003\n2\s+5003\s+5003,5001/);

      const [listed] = (await ok(home, ["topic", "list", "--json"])).json;
      expect(listed).toMatchObject({ name: "events", partitions: 3, replication: 2 });
      expect(listed.placement.map((partition: any) => [partition.partition, partition.replicas])).toEqual([
        [0, [5001, 5002]],
        [1, [5002, 5003]],
        [2, [5003, 5001]],
      ]);
      const status = await partitionsOnline(home, "events", 3);
      expect(status.topics).toMatchObject([{ name: "events", partitions: 3, replication: 2 }]);
      // Each new partition is led by its first replica with every replica in sync, as a new topic's.
      for (const partition of status.partitions.filter((entry: any) => entry.topic === "events" && entry.partition > 0)) {
        expect([partition.leader, partition.isr]).toEqual([partition.replicas[0], partition.replicas]);
      }

      await ok(home, ["produce", "events", "--partition", "2"], "new-a\nnew-b\n");
      expect(await consumed(home, "events", 2)).toBe("new-a\nnew-b\n");
      expect(await consumed(home, "events", 1)).toBe("");
      expect(await consumed(home, "events", 0)).toBe("old-a\nold-b\nold-c\n");

      const client = await loadFluvioClient().connect((await ok(home, ["status", "--json"])).json.endpoint);
      const admin = await client.admin();
      const topic = (decodeList(await admin.listTopic()) as any[]).find((entry) => entry.name === "events");
      expect(topic.spec.replicas).toEqual({ computed: { partitions: 3, replicationFactor: 2, ignoreRackAssignment: false } });
      const partitions = (decodeList(await admin.listPartitions()) as any[]).filter((entry) => entry.name.startsWith("events-"));
      expect(partitions.map((entry) => entry.name).sort()).toEqual(["events-0", "events-1", "events-2"]);
      expect(await readWithFluvio(client, "events", 2, 2)).toEqual(["new-a", "new-b"]);

      await ok(home, ["shutdown"]);
      await ok(home, ["resume"]);
      expect((await ok(home, ["topic", "list", "--json"])).json).toMatchObject([{ name: "events", partitions: 3, placement: listed.placement.map(({ partition, replicas }: any) => ({ partition, replicas })) }]);
      expect(await consumed(home, "events", 2)).toBe("new-a\nnew-b\n");
      expect(await consumed(home, "events", 0)).toBe("old-a\nold-b\nold-c\n");
      await ok(home, ["produce", "events", "--partition", "1"], "after-resume\n");
      expect(await consumed(home, "events", 1)).toBe("after-resume\n");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a topic that does not exist, a system topic and a count below 1 are refused with the fix named, and nothing changes",
    async () => {
      const home = await createCluster(1);
      await ok(home, ["topic", "create", "mine"]);

      const absent = await cli(home, ["topic", "add-partition", "absent", "--json"]);
      expect(absent.exitCode).toBe(1);
      expect(absent.json.error).toMatchObject({ code: "NO_TOPIC", message: "topic 'absent' does not exist" });
      expect(absent.json.error.hint).toContain("cluster topic create absent");

      const system = await cli(home, ["topic", "add-partition", "consumer-offset"]);
      expect(system.exitCode).toBe(1);
      expect(system.stderr).toContain("'consumer-offset' is a system topic");
      expect((await ok(home, ["topic", "list", "--system", "--json"])).json).toMatchObject([{ name: "consumer-offset", partitions: 1 }]);

      const zero = await cli(home, ["topic", "add-partition", "mine", "--count", "0"]);
      expect(zero.exitCode).toBe(2);
      expect(zero.stderr).toContain("--count must be an integer of at least 1, not '0'");

      const grown = await ok(home, ["topic", "add-partition", "mine", "--json"]);
      expect(grown.json).toMatchObject({ name: "mine", partitions: 2, added: [{ partition: 1, leader: 5001, replicas: [5001] }] });
      expect((await ok(home, ["topic", "list", "--json"])).json).toMatchObject([{ name: "mine", partitions: 2 }]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "on the wire, the SC answers an Update as Fluvio's SC does: a system topic with SystemSpecUpdatingAttempt, AddMirror with MirrorNotFound, another object type with 'unknown admin object type', a count of 0 with success and no change",
    async () => {
      const portBase = nextPortBase();
      const home = await createCluster(1, portBase);
      await ok(home, ["topic", "create", "mine"]);
      const connection = await openRaw(portLayout(portBase, 1).sc.publicPort);
      connection.write(apiVersionsRequest(1, "add-partition"));
      const update = (correlationId: number, request: UpdateRequest) =>
        encodeRequest({ apiKey: SC_API_KEY.update, apiVersion: SC_OBJECT_VERSION, correlationId, clientId: "add-partition" }, (w) => encodeUpdateRequest(w, request, SC_OBJECT_VERSION));
      connection.write(update(2, { type: "Topic", key: "consumer-offset", action: { type: "AddPartition", count: 1 } }));
      connection.write(update(3, { type: "Topic", key: "mine", action: { type: "AddMirror", remoteCluster: "edge", homeToMirror: false } }));
      connection.write(
        encodeRequest({ apiKey: SC_API_KEY.update, apiVersion: SC_OBJECT_VERSION, correlationId: 4, clientId: "add-partition" }, (w) =>
          encodeTypeBuffer(w, "SmartModule", SC_OBJECT_VERSION, (x) => x.string("sm")),
        ),
      );
      connection.write(update(5, { type: "Topic", key: "mine", action: { type: "AddPartition", count: 0 } }));
      for (const correlationId of [1, 2, 3, 4, 5]) expect(await connection.settle(correlationId)).toEqual({ answered: true, closed: false });
      expect(decodeStatus(connection.answers.get(2)!)).toEqual({
        name: "consumer-offset",
        errorCode: { code: "SystemSpecUpdatingAttempt", objectKind: "topic", name: "consumer-offset" },
        errorMessage: null,
      });
      expect(decodeStatus(connection.answers.get(3)!)).toMatchObject({ name: "mine", errorCode: { code: "MirrorNotFound" }, errorMessage: expect.stringContaining("mirrors are not supported") });
      expect(decodeStatus(connection.answers.get(4)!)).toEqual({ name: "update error", errorCode: { code: "Other", message: "unknown admin object type" }, errorMessage: null });
      expect(decodeStatus(connection.answers.get(5)!)).toEqual({ name: "mine", errorCode: { code: "None" }, errorMessage: null });
      connection.end();
      expect((await ok(home, ["topic", "list", "--json"])).json).toMatchObject([{ name: "mine", partitions: 1 }]);
      expect((await ok(home, ["topic", "list", "--system", "--json"])).json).toMatchObject([{ name: "consumer-offset", partitions: 1 }]);
    },
    TEST_TIMEOUT_MS,
  );
});
