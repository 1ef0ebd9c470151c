/**
 * A topic's settings end to end, on a real cluster the CLI made: `topic create` takes Fluvio's
 * storage flags in Fluvio's formats, the SC keeps them through shutdown and resume and gives
 * them back to the CLI and to Fluvio's own client, refuses what it cannot honour with the fix
 * named, and keeps Fluvio's system topic apart.
 */
import { describe, expect, test } from "bun:test";
import { cli, portBlocks, tempHome } from "../helpers.ts";
import { ok } from "../cluster-data.ts";
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
});
