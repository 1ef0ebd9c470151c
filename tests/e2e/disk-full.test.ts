/**
 * A full disk, end to end with real processes: the cluster home on a 20 MiB tmpfs, filled by a
 * produce. The promise: the produce fails at once with DISK_FULL naming the directory and the
 * space left, and says how many records were acknowledged; every acknowledged record is kept;
 * no daemon dies, and followers retry with a backoff, logging a few lines, not one per attempt;
 * once there is room again the cluster carries on by itself. Mounting needs root (or a user
 * namespace): where it is not allowed, the test is skipped with a message.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterPaths, logFileOf } from "../../lib/cluster/home.ts";
import { stopProcesses } from "../../lib/base/procs.ts";
import { MetadataStore, type StoreChange } from "../../lib/engine/control-plane/store.ts";
import { TopicRegistry } from "../../lib/engine/control-plane/topic-registry.ts";
import { ok, waitForStatus } from "../cluster-data.ts";
import { CLI, portBlocks, recordedProcesses } from "../helpers.ts";

const nextPortBase = portBlocks(28600);

function mount(args: string[]): { ok: boolean; error: string } {
  const result = spawnSync("mount", args, { encoding: "utf8" });
  return { ok: result.status === 0, error: (result.stderr || result.error?.message || "").trim() };
}

/** A fresh 20 MiB tmpfs, or why one cannot be mounted here. */
function mountSmallTmpfs(): { dir: string } | { problem: string } {
  const dir = mkdtempSync(join(tmpdir(), "cluster-disk-full-"));
  const mounted = mount(["-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs", dir]);
  if (mounted.ok) return { dir };
  rmSync(dir, { recursive: true, force: true });
  return { problem: mounted.error || "mount failed" };
}

/** Unmounts and removes `dir`; a process that has just exited may hold it busy for a moment, and a lazy unmount is the last resort. */
async function unmount(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (spawnSync("umount", [dir]).status === 0) return rmSync(dir, { recursive: true, force: true });
    await Bun.sleep(100);
  }
  spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

const probe = mountSmallTmpfs();
if ("dir" in probe) {
  await unmount(probe.dir);
} else {
  console.log(`disk-full tests skipped: cannot mount a tmpfs here (${probe.problem})`);
}

/** `count` lines of about 100 bytes, each naming its index. */
function lines(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `record ${index} ${"x".repeat(88)}`);
}

/**
 * Runs `cluster ...args` with `input` on stdin from a file (off the small disk): produce stops
 * reading when it fails, and a pipe written by this process would fail with EPIPE.
 */
async function produceFromFile(home: string, args: string[], input: string): Promise<{ exitCode: number; json: any }> {
  const inputDir = mkdtempSync(join(tmpdir(), "cluster-disk-full-input-"));
  try {
    const inputFile = join(inputDir, "input");
    writeFileSync(inputFile, input);
    const child = Bun.spawn([process.execPath, CLI, ...args], {
      env: { ...process.env, CLUSTER_HOME: home },
      stdin: Bun.file(inputFile),
      stdout: "pipe",
      stderr: "inherit",
    });
    const stdout = await new Response(child.stdout).text();
    return { exitCode: await child.exited, json: JSON.parse(stdout) };
  } finally {
    rmSync(inputDir, { recursive: true, force: true });
  }
}

/** A daemon's line for a failed attempt (not the one saying it works again). */
const FAILURE_LINE = / failed(: | \d+ more time)|request failed|dropped its link/;

function logLines(home: string, component: string): string[] {
  return readFileSync(logFileOf(clusterPaths(home, "local"), component), "utf8").split("\n").filter(Boolean);
}

describe("a cluster whose disk fills up", () => {
  test.skipIf(!("dir" in probe))(
    "produce fails at once with DISK_FULL and what was acknowledged, nothing acknowledged is lost, followers back off quietly, and the cluster carries on once there is room",
    async () => {
      const mounted = mountSmallTmpfs();
      if (!("dir" in mounted)) throw new Error(`the tmpfs mounted a moment ago cannot be mounted now: ${mounted.problem}`);
      const home = mounted.dir;
      try {
        await ok(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())]);
        await ok(home, ["topic", "create", "full", "--replication", "3"]);

        // 30 MB for three replicas on 20 MiB. A generous --timeout: the failure must not wait for it.
        const input = lines(300_000);
        const started = performance.now();
        const failed = await produceFromFile(home, ["produce", "full", "--json", "--timeout", "60"], `${input.join("\n")}\n`);
        const elapsedMs = performance.now() - started;
        expect(failed.exitCode).toBe(1);
        const error = failed.json.error;
        expect(error.code).toBe("DISK_FULL");
        expect(error.message).toMatch(new RegExp(`no room on '${home}/local/data/spu-500\\d/full-0' for [0-9.]+ [KM]iB more \\([0-9.]+ (B|KiB|MiB) free\\)`));
        const acknowledged: number = error.acknowledged.records;
        expect(acknowledged).toBeGreaterThan(0);
        expect(error.message).toContain(`${acknowledged} record(s) were acknowledged to 'full' before it: partition 0 offsets 0..${acknowledged - 1}`);
        expect(elapsedMs).toBeLessThan(45_000);

        // Every acknowledged record is there, in order, on a disk that is still full.
        const kept = (await ok(home, ["consume", "full", "-B", "-d", "--json"])).json.records.map((record: { value: string }) => record.value);
        expect(kept.slice(0, acknowledged)).toEqual(input.slice(0, acknowledged));

        // While the disk stays full: every daemon runs on, and the followers that cannot store log a line or two, not one per attempt.
        await Bun.sleep(6_000);
        const full = (await ok(home, ["status", "--json"])).json;
        expect(full.processes.map((entry: { alive: boolean }) => entry.alive)).toEqual([true, true, true, true]);
        expect(full.spus.online).toEqual([5001, 5002, 5003]);
        for (const spu of [5001, 5002, 5003]) {
          const failures = logLines(home, `spu-${spu}`).filter((line) => FAILURE_LINE.test(line));
          expect(failures.length).toBeLessThanOrEqual(3);
        }

        // Room again: a produce is acknowledged, and the in-sync set is whole again.
        expect(mount(["-o", "remount,size=200m", home]).ok).toBe(true);
        const after = await ok(home, ["produce", "full", "--json"], "after 1\nafter 2\nafter 3\n");
        expect(after.json.records).toBe(3);
        const healed = await waitForStatus(home, (status) => {
          const partition = status.partitions[0];
          return partition?.isr.length === 3 && partition.highWatermark === partition.endOffset;
        });
        expect(healed.phase).toBe("running");
        const all = (await ok(home, ["consume", "full", "-B", "-d", "--json"])).json.records.map((record: { value: string }) => record.value);
        expect(all.slice(0, acknowledged)).toEqual(input.slice(0, acknowledged));
        expect(all.slice(-3)).toEqual(["after 1", "after 2", "after 3"]);
        const recovered = logLines(home, "spu-5001").concat(logLines(home, "spu-5002"), logLines(home, "spu-5003"));
        expect(recovered.filter((line) => FAILURE_LINE.test(line)).length).toBeLessThanOrEqual(9);
      } finally {
        await stopProcesses(recordedProcesses(home), { graceMs: 2_000 });
        await unmount(home);
      }
    },
    120_000,
  );
});

/** A metadata store on a disk that fills up when told to: every write then fails as a full disk's does. */
class FillingStore extends MetadataStore {
  full = false;

  protected override async write(changes: readonly StoreChange[]): Promise<void> {
    if (this.full) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    await super.write(changes);
  }
}

describe("the SC's partition metadata on a full disk", () => {
  async function registryWithTopic() {
    const dir = mkdtempSync(join(tmpdir(), "cluster-registry-full-"));
    const store = new FillingStore(dir);
    const registry = new TopicRegistry(store);
    await registry.create({ name: "t", replication: 3 }, [5001, 5002, 5003]);
    const view = () => registry.listPartitions(() => true, "t")[0]!;
    return { dir, store, registry, view, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }

  test("TopicRegistry.commit() of an in-sync set fails with the reason, drops it, and the in-sync set stays as written", async () => {
    const { store, registry, view, cleanup } = await registryWithTopic();
    try {
      const { leader, leaderEpoch } = view();
      store.full = true;
      expect(registry.stageIsr(leader, { topic: "t", partition: 0, leaderEpoch, isr: [leader] })).toEqual({ staged: true });
      const outcome = await registry.commit();
      expect(outcome).toEqual({ failed: expect.stringMatching(/^no room on '.+' \(.+ free\)$/), dropped: [expect.objectContaining({ cause: { kind: "isr", asker: leader } })] });
      expect(view().isr).toEqual([5001, 5002, 5003]);
      expect(registry.isPending("t-0")).toBe(false);
      expect(new TopicRegistry(new MetadataStore(store.dir)).listPartitions(() => true, "t")[0]!.isr).toEqual([5001, 5002, 5003]);
    } finally {
      cleanup();
    }
  });

  test("TopicRegistry.commit() of an election keeps the old leader when the new one cannot be written, and it can be staged again", async () => {
    const { store, registry, view, cleanup } = await registryWithTopic();
    try {
      const { leader } = view();
      store.full = true;
      expect(registry.stageElections((id) => id !== leader).elected).toHaveLength(1);
      const outcome = await registry.commit();
      expect(outcome).toMatchObject({ failed: expect.stringContaining("no room"), dropped: [{ cause: { kind: "election" } }] });
      expect(view()).toMatchObject({ leader, leaderEpoch: 0 });
      store.full = false;
      expect(registry.stageElections((id) => id !== leader).elected.map((change) => change.next.leaderEpoch)).toEqual([1]);
      expect(await registry.commit()).toMatchObject({ committed: [{ next: { leaderEpoch: 1 } }] });
      expect(view().leaderEpoch).toBe(1);
    } finally {
      cleanup();
    }
  });
});
