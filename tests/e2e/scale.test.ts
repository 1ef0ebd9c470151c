/**
 * The SC at 1,000 partitions, end to end with real processes: a topic of 1,000 partitions at
 * replication 3 on 3 SPUs, one SPU killed with SIGKILL (by the pid state.yaml records) and
 * the cluster resumed. No SPU is dropped for silence, every partition gets its full in-sync
 * set back, and the SC makes a handful of metadata writes for it, not one per change.
 * Figures (times, memory) are bench/scale.ts's; this proves the behaviour.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { adminTarget, listPartitions, type PartitionView } from "../../lib/fluvio/admin.ts";
import { clusterPaths, logFileOf } from "../../lib/cluster/home.ts";
import { readSavedSpec, readState } from "../../lib/cluster/state.ts";
import { ok, pollUntil } from "../cluster-data.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(23_500);
const PARTITIONS = 1000;

const full = (partitions: PartitionView[]) =>
  partitions.length === PARTITIONS && partitions.every((partition) => partition.online && partition.isr.length === partition.replicas.length);

describe("1,000 partitions", () => {
  test("at replication 3, through kill -9 of an SPU and resume: no SPU dropped for silence, every in-sync set full again, few metadata writes", async () => {
    const home = tempHome();
    await ok(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())]);
    const paths = clusterPaths(home, "local");
    const admin = adminTarget(readSavedSpec(paths)!);
    await ok(home, ["topic", "create", "big", "--partitions", String(PARTITIONS), "--replication", "3"]);
    await pollUntil("every partition led with its full in-sync set", () => listPartitions(admin), full);

    const victim = readState(paths).processes.find((entry) => entry.id === 5003)!;
    const logFrom = readFileSync(logFileOf(paths, "sc"), "utf8").length;
    process.kill(victim.pid, "SIGKILL");
    const shrunk = await pollUntil("every partition led without SPU 5003", () => listPartitions(admin), (partitions) =>
      partitions.every((partition) => partition.online && !partition.isr.includes(5003)),
    );
    expect(shrunk.filter((partition) => partition.leader === 5003)).toEqual([]);
    await ok(home, ["resume"]);
    await pollUntil("every in-sync set full again", () => listPartitions(admin), full);

    const scLog = readFileSync(logFileOf(paths, "sc"), "utf8");
    expect(scLog).not.toMatch(/SPU \d+ sent nothing for/);
    const since = scLog.slice(logFrom);
    // 2,000 in-sync set changes (1,000 out, 1,000 back) and about 333 elections: written in batches.
    const changes = since.split("\n").filter((line) => / in-sync set of 'big-\d+' is now /.test(line) || / elected SPU \d+ leader of 'big-/.test(line)).length;
    const commits = since.split("\n").filter((line) => / metadata: committed \d+ partition change/.test(line)).length;
    expect(changes).toBeGreaterThanOrEqual(PARTITIONS * 2);
    // Followers catch up one by one on a busy machine, so a write may carry few; never one per change.
    expect(commits * 5).toBeLessThan(changes);
    expect(since).not.toContain("refused an in-sync set change");
  }, 120_000);
});
