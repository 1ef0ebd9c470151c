/**
 * A topic's settings end to end, on a real cluster the CLI made: `topic create` takes Fluvio's
 * storage flags in Fluvio's formats, the SC keeps them through shutdown and resume and gives
 * them back to the CLI and to Fluvio's own client, refuses what it cannot honour with the fix
 * named, and keeps Fluvio's system topic apart.
 */
import { describe, expect, test } from "bun:test";
import { cli, portBlocks, tempHome } from "../helpers.ts";
import { logValues, ok, partitionDir, pollUntil, waitForStatus } from "../cluster-data.ts";
import { readState } from "../../lib/cluster/state.ts";
import { readdirSync, readFileSync } from "node:fs";
import { clusterPaths, logFileOf } from "../../lib/cluster/home.ts";
import { join } from "node:path";
import { partitionLeader, RecordStream } from "../../lib/fluvio/admin.ts";
import { locateCluster } from "../../lib/cluster/locate.ts";
import type { ClusterError } from "../../lib/base/errors.ts";
import { FluvioConnection } from "../../lib/fluvio/fluvio-connection.ts";
import { SC_API_KEY, SC_OBJECT_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { decodeStatus, encodeCreateRequest, type CreateRequest } from "../../lib/engine/wire/fluvio/object-api.ts";
import { decodeList, loadFluvioClient } from "../fluvio-client.ts";

const nextPortBase = portBlocks(30000);
const TEST_TIMEOUT_MS = 60_000;

async function createCluster(spus = 1): Promise<string> {
  const home = tempHome();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(nextPortBase())]);
  return home;
}

async function topicList(home: string, ...flags: string[]): Promise<any[]> {
  return (await ok(home, ["topic", "list", "--json", ...flags])).json;
}

const EVENTS = {
  name: "events",
  partitions: 2,
  replication: 1,
  retentionSeconds: 3600,
  segmentSize: 2048,
  maxPartitionSize: 10_000,
  compressionType: "gzip",
  system: false,
};

/** A record of about 400 bytes named `index`: two fill a segment of Fluvio's smallest size (1 KiB). */
const record = (index: number) => `record ${index} ${"r".repeat(400)}`;
const shown = (line: string) => line.split(" ").slice(0, 2).join(" ");
const logLines = (home: string, component: string) => readFileSync(logFileOf(clusterPaths(home, "local"), component), "utf8").split("\n");

describe("topic settings", () => {
  test(
    "topic create takes --retention-time, --segment-size, --max-partition-size and --compression-type as Fluvio spells them; list, status and Fluvio's client give them back, after a resume too",
    async () => {
      const home = await createCluster();
      const created = await ok(home, ["topic", "create", "events", "-p", "2", "--retention-time", "1h", "--segment-size", "2 Ki", "--max-partition-size", "10 KB", "--compression-type", "gzip"]);
      expect(created.stdout).toContain("retention 1h, segments 2 KiB, max partition 10 KB, compression gzip");
      await ok(home, ["topic", "create", "plain"]);
      const plain = { name: "plain", partitions: 1, replication: 1, retentionSeconds: null, segmentSize: null, maxPartitionSize: null, compressionType: "any", system: false };
      expect(await topicList(home)).toMatchObject([EVENTS, plain]);
      const table = (await ok(home, ["topic", "list"])).stdout;
      expect(table).toMatch(/events\s+2\s+1\s+1h\s+2 KiB\s+10 KB\s+gzip/);
      expect(table).toMatch(/plain\s+1\s+1\s+forever\s+64 MiB\s+unlimited\s+any/);

      const fluvio = loadFluvioClient();
      const client = await fluvio.connect((await ok(home, ["status", "--json"])).json.endpoint);
      const topics = decodeList(await (await client.admin()).listTopic()) as any[];
      const events = topics.find((topic) => topic.name === "events");
      expect(events.spec.cleanupPolicy).toEqual({ segment: { timeInSeconds: 3600 } });
      expect(events.spec.storage).toEqual({ segmentSize: 2048, maxPartitionSize: 10_000 });
      expect(events.spec.compressionType).toBe("Gzip");

      await ok(home, ["shutdown"]);
      const stopped = (await cli(home, ["status", "--json"])).json;
      expect(stopped.topics).toMatchObject([EVENTS, plain]);
      await ok(home, ["resume"]);
      expect(await topicList(home)).toMatchObject([EVENTS, plain]);
      expect((await ok(home, ["status", "--json"])).json.topics).toMatchObject([EVENTS, plain]);
      expect((await ok(home, ["status"])).stdout).toContain("'events': retention 1h, segments 2 KiB, max partition 10 KB, compression gzip");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "settings below Fluvio's minimums or in a format Fluvio's CLI does not take are refused with the fix named, and nothing is created",
    async () => {
      const home = await createCluster();
      const short = await cli(home, ["topic", "create", "t", "--retention-time", "5s"]);
      expect(short.exitCode).not.toBe(0);
      expect(short.stderr).toContain("retention time must be at least 10 seconds");
      expect(short.stderr).toContain("--retention-time of at least 10s");
      const small = await cli(home, ["topic", "create", "t", "--segment-size", "4096", "--max-partition-size", "3000"]);
      expect(small.stderr).toContain("max partition size 3000 is less than the segment size 4096");
      const format = await cli(home, ["topic", "create", "t", "--segment-size", "lots"]);
      expect(format.exitCode).toBe(2);
      expect(format.stderr).toContain("--segment-size takes a size such as '2048', '1 KB'");
      const duration = await cli(home, ["topic", "create", "t", "--retention-time", "forever"]);
      expect(duration.exitCode).toBe(2);
      expect(duration.stderr).toContain("--retention-time takes a duration such as '1h'");
      expect(await topicList(home)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the SC makes Fluvio's system topic consumer-offset; topic list shows it only with --system, and a delete without force is refused",
    async () => {
      const home = await createCluster();
      await ok(home, ["topic", "create", "mine"]);
      expect((await topicList(home)).map((topic) => topic.name)).toEqual(["mine"]);
      const system = await topicList(home, "--system");
      expect(system).toMatchObject([
        { name: "consumer-offset", partitions: 1, replication: 1, retentionSeconds: 604_800, segmentSize: 512_000_000, maxPartitionSize: 2_048_000_000, system: true },
      ]);
      expect((await ok(home, ["status", "--json"])).json.topics.map((topic: any) => topic.name)).toEqual(["mine"]);
      const deleted = await cli(home, ["topic", "delete", "consumer-offset"]);
      expect(deleted.exitCode).not.toBe(0);
      expect(deleted.stderr).toContain("system");
      expect(await topicList(home, "--system")).toHaveLength(1);
      await ok(home, ["shutdown"]);
      await ok(home, ["resume"]);
      expect((await topicList(home, "--system")).map((topic) => topic.name)).toEqual(["consumer-offset"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "retention deletes a segment whose records are older than the retention time, keeps the younger ones and the active one, and a read below the new start gets Fluvio's OffsetEvicted",
    async () => {
      const home = await createCluster();
      await ok(home, ["topic", "create", "short", "--retention-time", "10s", "--segment-size", "1 KiB"]);
      // One produce is one batch: segment 0 holds records 0 and 1, and record 2 rolls a new one.
      for (const index of [0, 1, 2, 3]) await ok(home, ["produce", "short"], `${record(index)}\n`);
      const segments = () => readdirSync(partitionDir(home, 5001, "short")).filter((file) => file.endsWith(".log")).sort();
      expect(segments()).toEqual(["00000000000000000000.log", "00000000000000000002.log"]);
      // Some seconds later, records 4 and 5 roll segment 2 closed: it expires that much after segment 0.
      await Bun.sleep(5_000);
      for (const index of [4, 5]) await ok(home, ["produce", "short"], `${record(index)}\n`);
      expect(segments()).toEqual(["00000000000000000000.log", "00000000000000000002.log", "00000000000000000004.log"]);

      const consumed = await pollUntil(
        "retention to delete segment 0",
        async () => (await ok(home, ["consume", "short", "-B", "-d"])).stdout.trim().split("\n").map(shown),
        (lines) => lines[0] !== "record 0",
      );
      expect(consumed).toEqual(["record 2", "record 3", "record 4", "record 5"]);
      expect(segments()).toEqual(["00000000000000000002.log", "00000000000000000004.log"]);

      const below = await cli(home, ["consume", "short", "--offset", "0", "-d"]);
      expect(below.exitCode).not.toBe(0);
      expect(below.stderr).toContain("offset 0 is outside partition 0 of 'short' (offsets 2 to 6)");
      // A StreamFetch from offset 0 itself is answered with Fluvio's OffsetEvicted, which names the oldest kept.
      const cluster = locateCluster({ home }, "run");
      const stream = await RecordStream.open(cluster, "short", await partitionLeader(cluster, "short", 0), 0, 1 << 20);
      const evicted = await stream.next(5_000).then(() => undefined, (error: ClusterError) => error);
      stream.close();
      expect(evicted?.message).toBe("offset 0 of partition 0 was deleted by the topic's retention");
      expect(evicted?.hint).toContain("the oldest offset kept is 2");

      // The younger closed segment goes in its turn; the active one, however old, stays.
      await pollUntil("retention to delete segment 2", async () => segments(), (files) => files.length === 1);
      expect(segments()).toEqual(["00000000000000000004.log"]);
      expect((await ok(home, ["consume", "short", "-B", "-d"])).stdout.trim().split("\n").map(shown)).toEqual(["record 4", "record 5"]);
      // The size the SC reports follows: only what is left on disk.
      const left = Bun.file(join(partitionDir(home, 5001, "short"), "00000000000000000004.log")).size;
      await pollUntil("the size after retention", async () => (await ok(home, ["status", "--json"])).json.partitions[0].sizeBytes, (size) => size === left);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "each partition's size is its leader's log bytes, in `status --json` and in Fluvio's partition status, never negative",
    async () => {
      const home = await createCluster(2);
      await ok(home, ["topic", "create", "sized", "--replication", "2"]);
      await ok(home, ["produce", "sized"], "one\ntwo\nthree\n");
      const leader = (await ok(home, ["status", "--json"])).json.partitions[0].leader;
      const onDisk = () =>
        readdirSync(partitionDir(home, leader, "sized"))
          .filter((file) => file.endsWith(".log"))
          .reduce((total, file) => total + Bun.file(join(partitionDir(home, leader, "sized"), file)).size, 0);
      expect(onDisk()).toBeGreaterThan(0);
      const status = await pollUntil("the size to be reported", async () => (await ok(home, ["status", "--json"])).json, (json) => json.partitions[0].sizeBytes > 0);
      expect(status.partitions[0].sizeBytes).toBe(onDisk());

      const client = await loadFluvioClient().connect(status.endpoint);
      const partitions = decodeList(await (await client.admin()).listPartitions()) as any[];
      expect(partitions.map((partition) => [partition.name, partition.status.size])).toEqual([["sized-0", onDisk()]]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a create asking for deduplication is refused as Fluvio's SC refuses it without its SmartModule, and nothing is created",
    async () => {
      const home = await createCluster();
      const [host, port] = (await ok(home, ["status", "--json"])).json.endpoint.split(":");
      const connection = await FluvioConnection.open({ host, port: Number(port) }, 5_000);
      const request: CreateRequest = {
        type: "Topic",
        common: { name: "deduped", dryRun: false, timeout: null },
        spec: {
          replicas: { type: "Computed", partitions: 1, replicationFactor: 1, ignoreRackAssignment: false },
          cleanupPolicy: null,
          storage: null,
          compressionType: "Any",
          deduplication: { bounds: { count: 5, age: { secs: 5, nanos: 0 } }, filter: { transform: { uses: "fluvio/dedup-filter@0.0.2", with: new Map() } } },
          system: false,
        },
      };
      try {
        const body = await connection.request(SC_API_KEY.create, SC_OBJECT_VERSION, (writer) => encodeCreateRequest(writer, request, SC_OBJECT_VERSION), { timeoutMs: 5_000 });
        const status = decodeStatus(body);
        expect(status.errorCode).toEqual({ code: "DeduplicationSmartModuleNotLoaded" });
        expect(status.errorMessage).toContain("deduplication needs SmartModules, which this cluster does not run");
      } finally {
        connection.close();
      }
      expect(await topicList(home)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a follower that was down while its leader's retention deleted what it lacks starts over at the leader's start, catches up and is in sync again",
    async () => {
      const home = await createCluster(2);
      await ok(home, ["topic", "create", "lagging", "--replication", "2", "--retention-time", "10s", "--segment-size", "1 KiB"]);
      const { leader, replicas } = (await ok(home, ["status", "--json"])).json.partitions[0];
      const follower = replicas.find((id: number) => id !== leader);
      const entry = readState(clusterPaths(home, "local")).processes.find((recorded) => recorded.id === follower)!;
      process.kill(entry.pid, "SIGKILL");
      for (const index of [0, 1, 2, 3, 4, 5]) await ok(home, ["produce", "lagging"], `${record(index)}\n`);
      await pollUntil(
        "the leader's retention to delete segments 0 and 2",
        async () => (await ok(home, ["consume", "lagging", "-B", "-d"])).stdout.trim().split("\n").map(shown),
        (lines) => lines[0] === "record 4",
      );

      await ok(home, ["resume"]);
      await waitForStatus(home, (status) => status.partitions[0]?.isr.length === 2 && status.partitions[0].online);
      expect(logLines(home, `spu-${follower}`).some((line) => line.includes("starts over at offset 4"))).toBe(true);
      await ok(home, ["produce", "lagging"], `${record(6)}\n`);
      await ok(home, ["shutdown"]);
      expect(logValues(home, follower, "lagging").map(shown)).toEqual(["record 4", "record 5", "record 6"]);
      expect(logValues(home, leader, "lagging").map(shown)).toEqual(["record 4", "record 5", "record 6"]);
    },
    TEST_TIMEOUT_MS,
  );
});
