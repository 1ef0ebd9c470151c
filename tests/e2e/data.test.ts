/**
 * End-to-end runs of the data path on the built-in engine: topics, produce, consume,
 * replication and recovery, through the real CLI against real SC and SPU processes on
 * 127.0.0.1, each test in a fresh temp home with its own port block.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { logValues, ok, pollUntil, waitForStatus } from "../cluster-data.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(24000);

/** A running cluster of `spus` SPUs in a fresh home. */
async function createCluster(spus: number): Promise<string> {
  const home = tempHome();
  const created = await cli(home, ["create", "--spus", String(spus), "--port-base", String(nextPortBase())]);
  expect(created.exitCode).toBe(0);
  return home;
}

/** `count` lines of varied bytes (UTF-8, tabs, spaces, empty lines), each naming its index. */
function lines(count: number, prefix = "record"): string[] {
  return Array.from({ length: count }, (_, i) => (i % 97 === 0 ? "" : `${prefix} ${i}\twith ünïcode ✓ ${"x".repeat(i % 50)}`));
}

describe("the mission scenario", () => {
  test("a, b and c produced at replication 3 survive shutdown and resume, and each SPU's log holds all three", async () => {
    const home = await createCluster(3);
    const created = await ok(home, ["topic", "create", "repltopic", "--replication", "3", "--json"]);
    expect(created.json.placement[0].replicas.toSorted()).toEqual([5001, 5002, 5003]);
    await ok(home, ["produce", "repltopic"], "a\nb\nc\n");
    await ok(home, ["shutdown"]);
    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json.partitions).toBe(1);

    expect((await ok(home, ["consume", "repltopic", "-B", "-d"])).stdout).toBe("a\nb\nc\n");
    await ok(home, ["shutdown"]);
    for (const spu of [5001, 5002, 5003]) expect(logValues(home, spu, "repltopic")).toEqual(["a", "b", "c"]);
  });
});

describe("produce and consume", () => {
  test("10,000 records come back after shutdown and resume: same count, order and bytes", async () => {
    const home = await createCluster(3);
    await ok(home, ["topic", "create", "bulk", "--replication", "3"]);
    const input = `${lines(10_000).join("\n")}\n`;
    const produced = await ok(home, ["produce", "bulk", "--json"], input);
    expect(produced.json.records).toBe(10_000);
    expect(produced.json.partitions).toEqual([
      { partition: 0, records: 10_000, firstOffset: 0, lastOffset: 9_999, ranges: [{ first: 0, last: 9_999 }], maybeDuplicated: 0 },
    ]);
    await ok(home, ["shutdown"]);
    await ok(home, ["resume"]);

    const consumed = await ok(home, ["consume", "bulk", "-B", "-d"]);
    expect(consumed.stdout.length).toBe(input.length);
    expect(consumed.stdout).toBe(input);
    // The SC stops first at shutdown, so no follower left the in-sync set it records.
    const status = await waitForStatus(home, (current) => current.partitions[0]?.isr.length === 3);
    expect(status.partitions[0]).toMatchObject({ topic: "bulk", online: true, endOffset: 10_000, highWatermark: 10_000 });
  });

  test("consume starts at --offset, defaults to only new records, and reads the partition it is given", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "two", "--partitions", "2", "--replication", "2"]);
    await ok(home, ["produce", "two", "--partition", "1"], "p1-a\np1-b\np1-c\n");
    await ok(home, ["produce", "two", "--partition", "0"], "p0-a\n");

    expect((await ok(home, ["consume", "two", "--partition", "1", "--offset", "1", "-d"])).stdout).toBe("p1-b\np1-c\n");
    expect((await ok(home, ["consume", "two", "-B", "-d"])).stdout).toBe("p0-a\n");
    expect((await ok(home, ["consume", "two", "-d"])).stdout).toBe("");
    const json = await ok(home, ["consume", "two", "--partition", "1", "-B", "-d", "--json"]);
    expect(json.json.records).toEqual([
      { offset: 0, value: "p1-a" },
      { offset: 1, value: "p1-b" },
      { offset: 2, value: "p1-c" },
    ]);
  });

  test("consume -d past the end fails with OFFSET_OUT_OF_RANGE instead of waiting", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "short"]);
    await ok(home, ["produce", "short"], "only\n");
    const past = await cli(home, ["consume", "short", "--offset", "5", "-d", "--json"]);
    expect(past.exitCode).toBe(1);
    expect(past.json.error.code).toBe("OFFSET_OUT_OF_RANGE");
    expect(past.json.error.message).toContain("offsets 0 to 1");
    expect((await ok(home, ["consume", "short", "--offset", "1", "-d"])).stdout).toBe("");
  });
  test("a continuous consume stopped by SIGINT while it waits for new records exits at once, not after its wait for the stream", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "idle"]);
    await ok(home, ["produce", "idle"], "first\n");
    const consumer = Bun.spawn([process.execPath, CLI, "consume", "idle", "-B"], { env: { ...process.env, CLUSTER_HOME: home }, stdout: "pipe", stderr: "pipe" });
    try {
      const reader = consumer.stdout.getReader();
      expect(Buffer.from((await reader.read()).value!).toString()).toBe("first\n");
      // Printed, it now waits for the stream's next answer, up to 6 s (QUIET_STREAM_MS) before it asks the SC anything.
      const stoppedAt = Date.now();
      consumer.kill("SIGINT");
      expect(await consumer.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    } finally {
      consumer.kill("SIGKILL");
    }
  });
});

describe("topics", () => {
  test("topic create refuses replication beyond the SPUs, a bad name and a duplicate, each with its code", async () => {
    const home = await createCluster(2);
    const cases: [string[], string, string][] = [
      [["topic", "create", "wide", "--replication", "3"], "INSUFFICIENT_SPUS", "replication 3 needs 3 online SPUs; 2 are online"],
      [["topic", "create", "bad/name"], "TOPIC_INVALID", "may only hold"],
      [["topic", "create", ".."], "TOPIC_INVALID", "cannot be a topic name"],
    ];
    for (const [args, code, message] of cases) {
      const refused = await cli(home, [...args, "--json"]);
      expect(refused.exitCode).toBe(1);
      expect(refused.json.error.code).toBe(code);
      expect(refused.json.error.message).toContain(message);
      expect(refused.json.error.hint).not.toBe("");
    }
    await ok(home, ["topic", "create", "once"]);
    const again = await cli(home, ["topic", "create", "once", "--json"]);
    expect(again.json.error.code).toBe("TOPIC_EXISTS");
    expect(again.json.error.hint).toContain("cluster topic delete once");
    const listed = await ok(home, ["topic", "list", "--json"]);
    expect(listed.json.map((topic: { name: string }) => topic.name)).toEqual(["once"]);
  });

  test("leaders of a topic's partitions are spread over the SPUs, and topic delete removes its data", async () => {
    const home = await createCluster(3);
    const created = await ok(home, ["topic", "create", "spread", "--partitions", "3", "--replication", "2", "--json"]);
    expect(created.json.placement.map((partition: { leader: number }) => partition.leader).toSorted()).toEqual([5001, 5002, 5003]);
    await ok(home, ["produce", "spread"], "x\ny\nz\n");
    const dataDir = clusterPaths(home, "local").data;
    const dirs = () => [5001, 5002, 5003].flatMap((spu) => readdirSync(join(dataDir, `spu-${spu}`)).filter((dir) => !dir.startsWith("consumer-offset")));
    expect(dirs().toSorted()).toEqual(["spread-0", "spread-0", "spread-1", "spread-1", "spread-2", "spread-2"]);

    await ok(home, ["topic", "delete", "spread"]);
    expect((await ok(home, ["topic", "list", "--json"])).json).toEqual([]);
    const missing = await cli(home, ["consume", "spread", "-B", "-d", "--json"]);
    expect(missing.json.error.code).toBe("NO_TOPIC");
    // The SPUs drop the data when the SC's new assignment reaches them.
    await pollUntil("the SPUs to remove the partition directories of 'spread'", dirs, (left) => left.length === 0);
    const again = await cli(home, ["topic", "delete", "spread", "--json"]);
    expect(again.json.error.code).toBe("NO_TOPIC");
  });

  test("delete then create on the same name: no topic and no record from before", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "old"]);
    await ok(home, ["produce", "old"], "stale\n");
    await ok(home, ["delete"]);
    expect(existsSync(clusterPaths(home, "local").data)).toBe(false);
    await ok(home, ["create", "--spus", "1", "--port-base", String(nextPortBase())]);

    expect((await ok(home, ["topic", "list", "--json"])).json).toEqual([]);
    expect((await ok(home, ["status", "--json"])).json.partitions).toEqual([]);
    await ok(home, ["topic", "create", "old"]);
    expect((await ok(home, ["consume", "old", "-B", "-d"])).stdout).toBe("");
  });
});

describe("failures", () => {
  test("a follower killed with SIGKILL mid-produce leaves the in-sync set, then catches up after resume with every acknowledged record", async () => {
    const home = await createCluster(3);
    await ok(home, ["topic", "create", "survive", "--replication", "3"]);
    const follower = 5002;
    const first = lines(5_000, "first");
    const second = lines(5_000, "second");

    // A producer whose stdin the test controls, so the kill lands between two halves of one run.
    const producer = Bun.spawn([process.execPath, CLI, "produce", "survive", "--json"], {
      env: { ...process.env, CLUSTER_HOME: home },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      producer.stdin.write(`${first.join("\n")}\n`);
      await producer.stdin.flush();
      await waitForStatus(home, (status) => status.partitions[0]?.highWatermark === first.length);

      const victim = readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === follower)!;
      process.kill(victim.pid, "SIGKILL");
      producer.stdin.write(`${second.join("\n")}\n`);
      await producer.stdin.end();
      expect(await producer.exited).toBe(0);
      expect(JSON.parse(await new Response(producer.stdout).text()).records).toBe(first.length + second.length);
    } finally {
      producer.kill();
    }
    // Every record was acknowledged without the dead follower: it left the in-sync set.
    const degraded = await waitForStatus(home, (status) => status.partitions[0]?.highWatermark === first.length + second.length);
    expect(degraded.phase).toBe("degraded");
    expect(degraded.partitions[0].isr).toEqual([5001, 5003]);

    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json.started).toEqual([`spu-${follower}`]);
    await waitForStatus(home, (status) => status.partitions[0]?.isr.includes(follower));
    await ok(home, ["shutdown"]);
    expect(logValues(home, follower, "survive")).toEqual([...first, ...second]);
  });

  test("a log whose tail is cut mid-batch is recovered on resume: whole batches readable, the torn one gone, the SPU online", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "torn"]);
    const values = lines(100, "torn");
    // Two produces, two batches: the cut tears the second.
    await ok(home, ["produce", "torn"], `${values.slice(0, 60).join("\n")}\n`);
    await ok(home, ["produce", "torn"], `${values.slice(60).join("\n")}\n`);
    await ok(home, ["shutdown"]);

    const dir = join(clusterPaths(home, "local").data, "spu-5001", "torn-0");
    const segment = join(dir, readdirSync(dir).find((file) => file.endsWith(".log"))!);
    truncateSync(segment, statSync(segment).size - 3);

    await ok(home, ["resume"]);
    const status = await ok(home, ["status", "--json"]);
    expect(status.json.phase).toBe("running");
    expect(status.json.spus.online).toEqual([5001]);
    // The second produce's last batch is gone whole; everything before it is kept.
    const { endOffset } = status.json.partitions[0];
    expect(endOffset).toBeGreaterThanOrEqual(60);
    expect(endOffset).toBeLessThan(100);
    expect(status.json.partitions[0]).toMatchObject({ online: true, highWatermark: endOffset });
    expect((await ok(home, ["consume", "torn", "-B", "-d"])).stdout).toBe(`${values.slice(0, endOffset).join("\n")}\n`);
    const log = readFileSync(join(clusterPaths(home, "local").logs, "spu-5001.log"), "utf8");
    expect(log).toMatch(new RegExp(`recovered 'torn-0': cut \\d+ byte\\(s\\) off 0+\\.log \\(a batch of \\d+ bytes, more than remain at offset ${endOffset}\\); ${endOffset} whole record\\(s\\) kept`));
  });
});
