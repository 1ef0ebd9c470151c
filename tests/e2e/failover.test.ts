/**
 * Faults on the data path, end to end with real processes: the leader of a partition killed
 * with SIGKILL mid-produce (failover to an in-sync replica, the old leader's unacknowledged
 * tail truncated when it returns), the SC killed with SIGKILL (SPUs keep serving and rejoin),
 * and a soak of produce, shutdown and resume. A follower killed mid-produce is data.test.ts's.
 * Processes are killed only by the pid their cluster's state.yaml records.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { isAlive } from "../../lib/base/procs.ts";
import { readState, type ProcessEntry } from "../../lib/cluster/state.ts";
import { produceBatch, RecordStream } from "../../lib/fluvio/admin.ts";
import { ClusterError } from "../../lib/base/errors.ts";
import { openPartitionLog } from "../../lib/engine/storage/partition-log.ts";
import { batchOf } from "../batches.ts";
import { atSpu, logValues, ok, partitionDir, pollUntil, waitForStatus } from "../cluster-data.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(26000);

async function createCluster(spus: number): Promise<string> {
  const home = tempHome();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(nextPortBase())]);
  return home;
}

/** The process `state.yaml` records for the SC (`id` null) or SPU `id`. */
function recorded(home: string, id: number | null): ProcessEntry {
  return readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === id)!;
}

function killRecorded(home: string, id: number | null): void {
  process.kill(recorded(home, id).pid, "SIGKILL");
}

/** `count` distinct lines naming `prefix` and their index. */
function lines(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i} ${"y".repeat(i % 40)}`);
}

/** True when `wanted` appears in `values` in order (other values may sit between). */
function inOrder(values: string[], wanted: string[]): boolean {
  let next = 0;
  for (const value of values) if (value === wanted[next]) next++;
  return next === wanted.length;
}

/** Reads `stream` until its lines include every one of `wanted`; returns what it read. */
async function readUntil(stream: ReadableStream<Uint8Array>, wanted: string[]): Promise<string[]> {
  const missing = new Set(wanted);
  const seen: string[] = [];
  let carry = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    carry = parts.pop()!;
    for (const line of parts) {
      seen.push(line);
      missing.delete(line);
    }
    if (missing.size === 0) return seen;
  }
  throw new Error(`the stream ended with ${missing.size} line(s) missing, first '${[...missing][0]}'`);
}

describe("the leader of a partition killed with SIGKILL", () => {
  test("mid-produce: an in-sync replica takes over, producer and consumer follow it, nothing acknowledged is lost, and the old leader returns as a follower without its unacknowledged tail", async () => {
    const home = await createCluster(3);
    await ok(home, ["topic", "create", "failover", "--replication", "3"]);
    const before = (await ok(home, ["status", "--json"])).json.partitions[0];
    const oldLeader: number = before.leader;
    expect(before).toMatchObject({ leaderEpoch: 0, isr: [5001, 5002, 5003] });
    const first = lines(2_000, "before");
    const second = lines(2_000, "after");
    const env = { ...process.env, CLUSTER_HOME: home };
    const producer = Bun.spawn([process.execPath, CLI, "produce", "failover", "--json"], { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const consumer = Bun.spawn([process.execPath, CLI, "consume", "failover", "-B"], { env, stdout: "pipe", stderr: "pipe" });
    let consumed: string[];
    let produced: { records: number; partitions: { maybeDuplicated: number }[] };
    try {
      producer.stdin.write(`${first.join("\n")}\n`);
      await producer.stdin.flush();
      await waitForStatus(home, (status) => status.partitions[0]?.highWatermark === first.length);

      killRecorded(home, oldLeader);
      producer.stdin.write(`${second.join("\n")}\n`);
      await producer.stdin.end();
      const exitCode = await producer.exited;
      const stderr = await new Response(producer.stderr).text();
      expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
      produced = JSON.parse(await new Response(producer.stdout).text());
      expect(produced.records).toBe(first.length + second.length);
      // The consumer started on the old leader reads on at the new one.
      consumed = await readUntil(consumer.stdout, [...first, ...second]);
    } finally {
      producer.kill();
      consumer.kill();
    }
    expect(inOrder(consumed, [...first, ...second])).toBe(true);

    const failedOver = await waitForStatus(home, (status) => status.partitions[0]?.online && status.partitions[0].leader !== oldLeader);
    const partition = failedOver.partitions[0];
    expect(partition.leaderEpoch).toBe(1);
    expect(partition.isr).not.toContain(oldLeader);
    expect(partition.isr).toContain(partition.leader);
    const onNewLeader = (await ok(home, ["consume", "failover", "-B", "-d", "--json"])).json.records.map((record: { value: string }) => record.value);
    // At least once: every acknowledged record, in order; a batch retried after the kill may be there twice.
    expect(inOrder(onNewLeader, [...first, ...second])).toBe(true);
    expect(onNewLeader.every((value: string) => value.startsWith("before ") || value.startsWith("after "))).toBe(true);
    // Records stored twice are records the producer said may be.
    expect(produced.partitions[0]!.maybeDuplicated).toBeGreaterThanOrEqual(onNewLeader.length - first.length - second.length);

    // Records the old leader wrote that no one acknowledged: put them at the end of its log while it is down.
    const tail = ["never acknowledged 1", "never acknowledged 2", "never acknowledged 3"];
    const log = openPartitionLog(partitionDir(home, oldLeader, "failover"));
    log.append(batchOf(tail));
    log.close();

    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json.started).toEqual([`spu-${oldLeader}`]);
    const healed = await waitForStatus(
      home,
      (status) => status.partitions[0]?.isr.length === 3 && status.partitions[0].highWatermark === status.partitions[0].endOffset,
    );
    expect(healed.partitions[0].leader).toBe(partition.leader);
    await ok(home, ["shutdown"]);
    for (const spu of [5001, 5002, 5003]) expect(logValues(home, spu, "failover")).toEqual(onNewLeader);
    const spuLog = readFileSync(join(clusterPaths(home, "local").logs, `spu-${oldLeader}.log`), "utf8");
    expect(spuLog).toMatch(/replica 'failover-0' truncates from offset \d+ to \d+, where its log leaves leader SPU \d+'s \(epoch 1\)/);
  });

  test("when it was the only in-sync replica, the partition stays leaderless and says so, and the leader keeps it when it returns (no unclean election)", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "lonely", "--replication", "2"]);
    await ok(home, ["produce", "lonely"], "one\ntwo\n");
    const { leader } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const follower = leader === 5001 ? 5002 : 5001;
    killRecorded(home, follower);
    await waitForStatus(home, (status) => status.partitions[0]?.isr.length === 1);
    killRecorded(home, leader);

    const down = await waitForStatus(home, (status) => status.spus.online.length === 0);
    expect(down.partitions[0]).toMatchObject({ leader, leaderEpoch: 0, isr: [leader], leaderless: true, online: false });
    const text = await cli(home, ["status"]);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toContain(`none (${leader} offline, no in-sync replica to elect)`);
    const refused = await cli(home, ["produce", "lonely", "--timeout", "0.3", "--json"], { input: "three\n" });
    expect(refused.exitCode).toBe(1);
    expect(refused.json.error.code).toBe("SPU_UNREACHABLE");
    expect(refused.json.error.message).toContain("no leader answered for partition 0 within 0.3s");
    const scLog = readFileSync(join(clusterPaths(home, "local").logs, "sc.log"), "utf8");
    expect(scLog).toContain(`partition 'lonely-0' has no leader: leader SPU ${leader} is offline and is the only in-sync replica`);

    // Whichever SPU reconnects first, only the in-sync one may lead: same leader, same epoch.
    await ok(home, ["resume"]);
    expect((await ok(home, ["status", "--json"])).json.partitions[0]).toMatchObject({ leader, leaderEpoch: 0, online: true });
    expect((await ok(home, ["consume", "lonely", "-B", "-d"])).stdout).toBe("one\ntwo\n");
  });
});

describe("the SC killed with SIGKILL", () => {
  test("status says degraded, the SPUs keep their data and serve reads, and resume restarts only the SC, which the SPUs rejoin", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "steady", "--replication", "2"]);
    const values = lines(100, "steady");
    await ok(home, ["produce", "steady"], `${values.join("\n")}\n`);
    const before = (await ok(home, ["status", "--json"])).json.partitions[0];
    const spuPids = [5001, 5002].map((id) => recorded(home, id).pid);
    const oldSc = recorded(home, null);
    killRecorded(home, null);

    const degraded = await cli(home, ["status", "--json"]);
    expect(degraded.exitCode).toBe(1);
    expect(degraded.json.phase).toBe("degraded");
    expect(degraded.json.processes.map((entry: { name: string; alive: boolean }) => [entry.name, entry.alive])).toEqual([
      ["sc", false],
      ["spu-5001", true],
      ["spu-5002", true],
    ]);
    // Straight to the leader's public port, in Fluvio's protocol: no SC is asked where it is.
    const { cluster, leader } = atSpu(home, before.leader);
    const stream = await RecordStream.open(cluster, "steady", leader, 0, 1 << 20);
    try {
      const read = await stream.next(10_000);
      expect(read?.values().map((value) => Buffer.from(value).toString())).toEqual(values);
    } finally {
      stream.close();
    }

    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json.started).toEqual(["sc"]);
    expect([5001, 5002].map((id) => recorded(home, id).pid)).toEqual(spuPids);
    expect(recorded(home, null).pid).not.toBe(oldSc.pid);
    expect(isAlive(oldSc)).toBe(false);
    const running = await cli(home, ["status", "--json"]);
    expect(running.exitCode).toBe(0);
    expect(running.json.spus.online).toEqual([5001, 5002]);
    // Reconnecting SPUs keep their leaderships: no election after an SC restart.
    expect(running.json.partitions[0]).toMatchObject({ leader: before.leader, leaderEpoch: before.leaderEpoch, online: true });
    await ok(home, ["produce", "steady"], "after the SC came back\n");
    const consumed = (await ok(home, ["consume", "steady", "-B", "-d"])).stdout;
    expect(consumed).toBe(`${[...values, "after the SC came back"].join("\n")}\n`);
  });

  test("with the SC down, a produce whose in-sync set must shrink fails at once with SC_UNREACHABLE, and succeeds once the SC is back", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "held", "--replication", "2"]);
    await ok(home, ["produce", "held"], "first\n");
    const { leader } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const follower = leader === 5001 ? 5002 : 5001;
    killRecorded(home, null);
    killRecorded(home, follower);
    // Once the leader has seen its follower go, it wants the in-sync set without it.
    const spuLog = join(clusterPaths(home, "local").logs, `spu-${leader}.log`);
    const shrink = `leader of 'held-0' asks the SC for in-sync set [${leader}]`;
    await pollUntil(`SPU ${leader} to log "${shrink}"`, () => readFileSync(spuLog, "utf8"), (log) => log.includes(shrink));

    const { cluster, leader: at } = atSpu(home, leader);
    const error = await produceBatch(cluster, "held", at, [Buffer.from("while the SC is down")], { timeoutMs: 10_000 }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).code).toBe("SC_UNREACHABLE");
    expect((error as ClusterError).message).toContain(`in-sync replica(s) ${follower} left and the SC, which must record it, is unreachable from SPU ${leader}`);

    await ok(home, ["resume"]);
    await ok(home, ["produce", "held"], "second\n");
    expect((await ok(home, ["consume", "held", "-B", "-d"])).stdout).toBe("first\nsecond\n");
  });
});

describe("high watermark checkpoints behind the log", () => {
  // A replica checkpoints its high watermark at most every second, and a follower learns it only
  // from its leader's answers: a crash, or the SC electing a follower while SPUs stop one by one,
  // leaves a leader whose checkpoint trails what was acknowledged. Every checkpoint is set to 0
  // here, the furthest behind any can be, so the leader starts with a high watermark of 0.
  test("resume returns only once every acknowledged record is readable: consume -d at once reads all 10,000, with the leader and in-sync set of before the shutdown", async () => {
    const home = await createCluster(3);
    await ok(home, ["topic", "create", "behind", "--replication", "3"]);
    const input = `${lines(10_000, "behind").join("\n")}\n`;
    expect((await ok(home, ["produce", "behind", "--json"], input)).json.records).toBe(10_000);
    const { leader } = (await ok(home, ["status", "--json"])).json.partitions[0];
    await ok(home, ["shutdown"]);
    // The SC stopped first, so it elected no one while the SPUs stopped.
    expect(readFileSync(join(clusterPaths(home, "local").logs, "sc.log"), "utf8")).not.toContain("elected");
    for (const spu of [5001, 5002, 5003]) writeFileSync(join(partitionDir(home, spu, "behind"), "high-watermark"), "0\n");

    await ok(home, ["resume"]);
    const status = (await ok(home, ["status", "--json"])).json;
    expect(status.partitions[0]).toMatchObject({ topic: "behind", leader, isr: [5001, 5002, 5003], online: true, endOffset: 10_000, highWatermark: 10_000 });
    expect((await ok(home, ["consume", "behind", "-B", "-d"])).stdout).toBe(input);
  });

  test("resume waits for a leader whose in-sync follower cannot fetch, --timeout names it with LEADER_UNAVAILABLE, and once the follower leaves the in-sync set every record is readable", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "stuck", "--replication", "2"]);
    const input = `${lines(1_000, "stuck").join("\n")}\n`;
    await ok(home, ["produce", "stuck"], input);
    const { leader, replicas } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const follower = replicas.find((id: number) => id !== leader);
    await ok(home, ["shutdown"]);
    for (const spu of replicas) writeFileSync(join(partitionDir(home, spu, "stuck"), "high-watermark"), "0\n");
    // A marker that is not JSON: the follower's SPU leaves its data alone and opens no replica, so it never fetches.
    writeFileSync(join(partitionDir(home, follower, "stuck"), "replica.json"), "not json\n");

    const timedOut = await cli(home, ["resume", "--timeout", "2", "--json"]);
    expect(timedOut.exitCode).toBe(1);
    expect(timedOut.json.error.code).toBe("LEADER_UNAVAILABLE");
    expect(timedOut.json.error.message).toContain(`stuck-0 (leader SPU ${leader})`);
    // Without a fetch for 5 s the follower leaves the in-sync set; the leader alone holds every acknowledged record.
    await ok(home, ["resume"]);
    const status = (await ok(home, ["status", "--json"])).json;
    expect(status.partitions[0]).toMatchObject({ leader, isr: [leader], online: true, highWatermark: 1_000 });
    expect((await ok(home, ["consume", "stuck", "-B", "-d"])).stdout).toBe(input);
  });
});

describe("a soak", () => {
  // 25 cycles of produce, shutdown and resume take about 20 s on an idle machine; a loaded 2-core one needs the room.
  test("25 cycles of produce, shutdown and resume keep every record: each produce starts where the last ended", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "soak", "--replication", "2"]);
    const perCycle = 20;
    const all: string[] = [];
    for (let cycle = 0; cycle < 25; cycle++) {
      const batch = lines(perCycle, `cycle ${cycle}`);
      const produced = await ok(home, ["produce", "soak", "--json"], `${batch.join("\n")}\n`);
      const [first, last] = [cycle * perCycle, (cycle + 1) * perCycle - 1];
      expect(produced.json.partitions).toEqual([
        { partition: 0, records: perCycle, firstOffset: first, lastOffset: last, ranges: [{ first, last }], maybeDuplicated: 0 },
      ]);
      all.push(...batch);
      await ok(home, ["shutdown"]);
      await ok(home, ["resume"]);
    }
    expect((await ok(home, ["consume", "soak", "-B", "-d"])).stdout).toBe(`${all.join("\n")}\n`);
  }, 180_000);
});
