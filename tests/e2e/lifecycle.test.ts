/**
 * End-to-end runs of the real CLI against real SC and SPU processes on 127.0.0.1, each in a
 * fresh temp home with its own port block.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Dirent } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { findBusyPorts, isAlive, processState, readStartTime, stopProcesses, type ProcessRecord } from "../../lib/base/procs.ts";
import { readState, writeState } from "../../lib/cluster/state.ts";
import { cli, portBlocks, recordedProcesses, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(20000);

function pidsOf(home: string, name = "local"): Map<string, number> {
  const state = readState(clusterPaths(home, name));
  return new Map(state.processes.map((entry) => [entry.role === "sc" ? "sc" : `spu-${entry.id}`, entry.pid]));
}

describe("the reference tool's failure, fixed", () => {
  test("create --spus 3, shutdown, then create fails with CLUSTER_EXISTS and resume brings back exactly 5001-5003", async () => {
    const home = tempHome();
    const base = nextPortBase();
    const created = await cli(home, ["create", "--spus", "3", "--port-base", String(base), "--json"]);
    expect(created.exitCode).toBe(0);
    expect(created.json.spus.online).toEqual([5001, 5002, 5003]);

    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    expect(recordedProcesses(home)).toEqual([]);

    const again = await cli(home, ["create", "--json"]);
    expect(again.exitCode).toBe(1);
    expect(again.json.error.code).toBe("CLUSTER_EXISTS");
    expect(again.json.error.message).toContain("(stopped)");
    expect(again.json.error.hint).toContain("cluster resume --name local");
    expect(recordedProcesses(home)).toEqual([]);
    expect(await findBusyPorts("127.0.0.1", [base + 3, base + 4, base + 10])).toEqual([]);

    const withFlags = await cli(home, ["resume", "--spus", "1"]);
    expect(withFlags.exitCode).toBe(2);
    expect(withFlags.stderr).toContain("resume takes no configuration flags (--spus)");
    expect(recordedProcesses(home)).toEqual([]);

    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.json.spus).toEqual({ expected: [5001, 5002, 5003], registered: [5001, 5002, 5003], online: [5001, 5002, 5003] });
    const status = await cli(home, ["status", "--json"]);
    expect(status.exitCode).toBe(0);
    expect(status.json.phase).toBe("running");
    expect(status.json.processes.map((process: { name: string; alive: boolean }) => [process.name, process.alive])).toEqual([
      ["sc", true],
      ["spu-5001", true],
      ["spu-5002", true],
      ["spu-5003", true],
    ]);
  });

  test("resume fails fast with SPU_EXTRA naming an SPU the spec does not have, and leaves the cluster stopped", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const registered = await cli(home, ["spu", "register", "--id", "5004"]);
    expect(registered.exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);

    // With --timeout 50 a slow failure would be SPU_CONFIRM_TIMEOUT; SPU_EXTRA proves it failed fast.
    const resumed = await cli(home, ["resume", "--timeout", "50", "--json"]);
    expect(resumed.exitCode).toBe(1);
    expect(resumed.json.error.code).toBe("SPU_EXTRA");
    expect(resumed.json.error.message).toContain("5004");
    expect(resumed.json.error.hint).toContain("cluster spu unregister --id 5004 --name local");
    expect(recordedProcesses(home).filter(isAlive)).toEqual([]);
    expect((await cli(home, ["status"])).exitCode).toBe(3);

    expect((await cli(home, ["spu", "unregister", "--id", "5004"])).exitCode).toBe(0);
    const fixed = await cli(home, ["resume", "--json"]);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.json.spus.registered).toEqual([5001, 5002]);
  });
});

describe("degraded clusters", () => {
  test("after kill -9 of one SPU, status says degraded and resume restarts that SPU alone", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const before = pidsOf(home);
    process.kill(before.get("spu-5002")!, "SIGKILL");

    const status = await cli(home, ["status"]);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain("cluster 'local' is degraded");
    expect(status.stdout).toContain("not running: spu-5002");

    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.json.started).toEqual(["spu-5002"]);
    expect(resumed.json.spus.online).toEqual([5001, 5002, 5003]);
    const after = pidsOf(home);
    for (const component of ["sc", "spu-5001", "spu-5003"]) expect(after.get(component)).toBe(before.get(component)!);
    expect(after.get("spu-5002")).not.toBe(before.get("spu-5002")!);
    expect((await cli(home, ["status"])).exitCode).toBe(0);
  });

  test("an SPU that dies while resuming fails resume with SPU_DIED and its log, and resume stops what it started", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    // A file where SPU 5002's data directory should be makes that SPU exit at start.
    const dataDir = join(clusterPaths(home, "local").data, "spu-5002");
    rmSync(dataDir, { recursive: true });
    writeFileSync(dataDir, "not a directory");

    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(1);
    expect(resumed.json.error.code).toBe("SPU_DIED");
    expect(resumed.json.error.message).toContain("SPU 5002");
    expect(resumed.json.error.message).toContain("spu-5002.log");
    expect(resumed.json.error.message).toContain("EEXIST");
    expect(recordedProcesses(home).filter(isAlive)).toEqual([]);
    expect((await cli(home, ["status"])).exitCode).toBe(3);
  });

  test("an SPU stopped with SIGSTOP is shown suspended, alive but not serving, and the cluster degraded at once; after SIGCONT it runs again", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const pid = pidsOf(home).get("spu-5002")!;
    process.kill(pid, "SIGSTOP");
    try {
      const status = await cli(home, ["status", "--json"]);
      expect(status.exitCode).toBe(1);
      expect(status.json.phase).toBe("degraded");
      expect(status.json.processes.map((entry: { name: string; alive: boolean; state: string }) => [entry.name, entry.alive, entry.state])).toEqual([
        ["sc", true, "running"],
        ["spu-5001", true, "running"],
        ["spu-5002", true, "suspended"],
      ]);
      const text = await cli(home, ["status"]);
      expect(text.stdout).toMatch(new RegExp(`spu-5002 +${pid} +suspended +`));
      expect(text.stdout).toContain(`suspended (by SIGSTOP or the like, serving nothing): spu-5002; 'kill -CONT ${pid}' lets them go on`);
      expect(text.stdout).not.toContain("not running:");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const deadline = Date.now() + 30_000;
    let phase = "";
    while (phase !== "running" && Date.now() < deadline) {
      phase = (await cli(home, ["status", "--json"])).json.phase;
      if (phase !== "running") await Bun.sleep(100);
    }
    expect(phase).toBe("running");
  });
});

/** The first line `stream` gives, without waiting for it to end. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0]!.trim();
}

/** `probe()` once it equals `wanted`, or its last value after a second (a signal takes a moment to land). */
async function eventually<T>(probe: () => T, wanted: T): Promise<T> {
  let value = probe();
  for (let attempt = 0; attempt < 100 && value !== wanted; attempt++) {
    await Bun.sleep(10);
    value = probe();
  }
  return value;
}

describe("processState()", () => {
  test("tells a running process from a suspended one (SIGSTOP), a zombie, and a pid that is gone", async () => {
    // The shell's child exits at once and is never reaped: the shell has become 'sleep', which does not wait.
    const parent = Bun.spawn(["sh", "-c", "sleep 0 & echo $!; exec sleep 30"], { stdout: "pipe" });
    try {
      const zombiePid = Number(await firstLine(parent.stdout));
      expect(Number.isInteger(zombiePid)).toBe(true);
      let zombie: ProcessRecord | undefined;
      for (let attempt = 0; attempt < 100 && !zombie; attempt++) {
        const stat = readFileSync(`/proc/${zombiePid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[0] === "Z") zombie = { pid: zombiePid, startTime: fields[19]!, argv: [] };
        else await Bun.sleep(10);
      }
      const live: ProcessRecord = { pid: parent.pid, startTime: readStartTime(parent.pid), argv: [] };
      expect(processState(live)).toBe("running");
      process.kill(parent.pid, "SIGSTOP");
      expect(await eventually(() => processState(live), "suspended")).toBe("suspended");
      expect(isAlive(live)).toBe(true);
      process.kill(parent.pid, "SIGCONT");
      expect(await eventually(() => processState(live), "running")).toBe("running");
      expect(processState(zombie!)).toBe("zombie");
      expect(isAlive(zombie!)).toBe(false);
      expect(processState({ ...live, startTime: "1" })).toBe("gone");
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

describe("shutdown and delete", () => {
  test("shutdown stops every process, keeps spec, metadata, data and logs, and is idempotent", async () => {
    const home = tempHome();
    const paths = clusterPaths(home, "local");
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const running = readState(paths).processes;
    expect(running.length).toBe(3);

    const first = await cli(home, ["shutdown", "--json"]);
    expect(first.exitCode).toBe(0);
    expect(first.json.stopped.sort()).toEqual(running.map((entry) => entry.pid).sort());
    expect(first.json.killed).toEqual([]);
    expect(running.filter(isAlive)).toEqual([]);
    for (const kept of [paths.spec, join(paths.metadata, "SPU", "custom-spu-5002.yaml"), join(paths.logs, "sc.log"), join(paths.data, "spu-5001")]) {
      expect(existsSync(kept)).toBe(true);
    }
    expect(readFileSync(join(paths.logs, "spu-5001.log"), "utf8")).toContain("stopping on SIGTERM");

    const second = await cli(home, ["shutdown", "--json"]);
    expect(second.exitCode).toBe(0);
    expect(second.json.alreadyStopped).toBe(true);
  });

  test("delete stops everything, removes the directory, frees every port, and is idempotent", async () => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(base)])).exitCode).toBe(0);
    const running = readState(clusterPaths(home, "local")).processes;

    const deleted = await cli(home, ["delete", "--json"]);
    expect(deleted.exitCode).toBe(0);
    expect(deleted.json.deleted).toBe(true);
    expect(running.filter(isAlive)).toEqual([]);
    expect(existsSync(join(home, "local"))).toBe(false);
    expect(await findBusyPorts("127.0.0.1", [base + 3, base + 4, base + 10, base + 11, base + 20, base + 21])).toEqual([]);

    const again = await cli(home, ["delete", "--json"]);
    expect(again.exitCode).toBe(0);
    expect(again.json.deleted).toBe(false);
    expect((await cli(home, ["status"])).exitCode).toBe(4);
  });

  test("shutdown and resume of a cluster that does not exist fail with NO_CLUSTER and write nothing", async () => {
    const home = tempHome();
    for (const verb of ["shutdown", "resume"]) {
      const result = await cli(home, [verb, "--name", "ghost", "--json"]);
      expect(result.exitCode).toBe(1);
      expect(result.json.error.code).toBe("NO_CLUSTER");
    }
    expect(existsSync(join(home, "ghost"))).toBe(false);
  });
});

describe("several clusters", () => {
  test("two named clusters run side by side in their own port blocks and list shows both", async () => {
    const home = tempHome();
    // Without --port-base the first takes the first block (CLUSTER_PORT_BASE, here 22000, in
    // place of the default 9000) and the second the next free block of 1000.
    const env = { CLUSTER_PORT_BASE: "22000" };
    const first = await cli(home, ["create", "--name", "one", "--json"], { env });
    const second = await cli(home, ["create", "--name", "two", "--spus", "2", "--json"], { env });
    expect(first.exitCode).toBe(0);
    expect(second.exitCode).toBe(0);
    expect(first.json.portBase).toBe(22000);
    expect(second.json.portBase).toBe(23000);

    const list = await cli(home, ["list", "--json"]);
    expect(list.json).toEqual([
      { name: "one", phase: "running", spus: 1, endpoint: "127.0.0.1:22003" },
      { name: "two", phase: "running", spus: 2, endpoint: "127.0.0.1:23003" },
    ]);
    expect((await cli(home, ["shutdown", "--name", "one"])).exitCode).toBe(0);
    expect((await cli(home, ["status", "--name", "two"])).exitCode).toBe(0);
    expect((await cli(home, ["status", "--name", "one"])).exitCode).toBe(3);
  });
});

describe("pre-flight checks", () => {
  test("create fails with PORT_IN_USE naming a port another process holds, and writes nothing", async () => {
    const home = tempHome();
    const base = nextPortBase();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(base + 20, "127.0.0.1", resolve));
    try {
      const result = await cli(home, ["create", "--spus", "2", "--port-base", String(base), "--json"]);
      expect(result.exitCode).toBe(1);
      expect(result.json.error.code).toBe("PORT_IN_USE");
      expect(result.json.error.message).toContain(`127.0.0.1:${base + 20} (spu-5002)`);
      expect(existsSync(join(home, "local"))).toBe(false);
      expect(recordedProcesses(home)).toEqual([]);
    } finally {
      squatter.close();
    }
  });

  test.each([
    [["create", "--spus", "0"], "--spus: must be 1..64 (got 0)"],
    [["create", "--spus", "65"], "--spus: must be 1..64 (got 65)"],
    [["create", "--spus", "x"], "--spus: must be an integer (got NaN)"],
    [["create", "--name", "../x"], "invalid cluster name '../x'"],
    [["create", "--name", "A"], "invalid cluster name 'A'"],
    [["create", "--name", "a/b"], "invalid cluster name 'a/b'"],
    [["create", "--name", "a".repeat(70)], "invalid cluster name"],
    [["create", "--spus", "2", "--spec", "specs/three-spus.yaml"], "use either --spus or --spec"],
    [["creat"], "Did you mean create?"],
    [["create", "--spsu", "3"], "Unknown argument: spsu (did you mean --spus?)"],
    [["create", "--spus", "-1"], "--spus: must be 1..64 (got -1)"],
    [["create", "--timeout", "abc"], "--timeout must be a number of seconds, 0 or more"],
    [["shutdown", "--timeout", "-1"], "--timeout must be a number of seconds, 0 or more (got -1)"],
    [["spu", "register", "--id", "abc"], "--id must be an integer from 1"],
    [["spu", "register", "--id", "5009", "--public-port", "70000", "--private-port", "1"], "--public-port must be an integer from 1 to 65535 (got 70000)"],
  ])("cluster %p is a usage error (exit 2) that says %p and writes nothing", async (args, message) => {
    const home = tempHome();
    const result = await cli(home, args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
    expect(existsSync(home) ? Bun.spawnSync(["ls", "-A", home]).stdout.toString() : "").toBe("");
  });

  test("create --spec with a bad spec fails with SPEC_INVALID naming each problem", async () => {
    const home = tempHome();
    const spec = join(home, "bad.yaml");
    writeFileSync(spec, "spus: 0\nreplicas: 3\n");
    const result = await cli(home, ["create", "--spec", spec, "--json"]);
    expect(result.exitCode).toBe(1);
    expect(result.json.error.code).toBe("SPEC_INVALID");
    expect(result.json.error.message).toContain("spus: must be 1..64 (got 0)");
    expect(result.json.error.message).toContain("replicas: unknown key");
    expect(existsSync(join(home, "local"))).toBe(false);
  });
});

describe("process records", () => {
  test("a recorded pid now owned by an unrelated process is reported gone and never signalled", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const stranger = spawn("sleep", ["30"], { stdio: "ignore" });
    const strangerRecord = { pid: stranger.pid!, startTime: readStartTime(stranger.pid!), argv: ["sleep", "30"] };
    try {
      // The cluster's state now names the stranger's pid, with another start time (as after pid reuse).
      const paths = clusterPaths(home, "local");
      writeState(paths, {
        intent: "running",
        processes: [{ role: "sc", id: null, ports: [], pid: stranger.pid!, startTime: "1", argv: ["bun", "sc.ts"] }],
      });
      const status = await cli(home, ["status", "--json"]);
      expect(status.json.phase).toBe("stopped");
      expect(status.json.processes[0]).toMatchObject({ name: "sc", pid: stranger.pid, alive: false });
      expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
      expect((await cli(home, ["delete"])).exitCode).toBe(0);
      expect(isAlive(strangerRecord)).toBe(true);
    } finally {
      await stopProcesses([strangerRecord], { graceMs: 1_000 });
    }
  });

  test("the cluster directory and every directory and file in it are readable by their owner only", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["topic", "create", "kept"])).exitCode).toBe(0);
    expect((await cli(home, ["produce", "kept"], { input: "a\n" })).exitCode).toBe(0);
    const paths = clusterPaths(home, "local");
    const entries = readdirSync(paths.dir, { withFileTypes: true, recursive: true });
    const modes = (wanted: (entry: Dirent) => boolean) =>
      entries.filter(wanted).map((entry) => [relative(paths.dir, join(entry.parentPath, entry.name)), statSync(join(entry.parentPath, entry.name)).mode & 0o777]);
    const files = modes((entry) => entry.isFile());
    const dirs = modes((entry) => entry.isDirectory());
    // Every kind of file is there: spec, state, token, lock, metadata, logs, partition data.
    for (const file of ["cluster.yaml", "state.yaml", "token", "lock", "metadata/SPU/custom-spu-5001.yaml", "logs/sc.log", "logs/spu-5001.log"]) {
      expect(files).toContainEqual([file, 0o600]);
    }
    expect(files.some(([file]) => String(file).startsWith("data/spu-5001/kept-0/") && String(file).endsWith(".log"))).toBe(true);
    expect(files.filter(([, mode]) => mode !== 0o600)).toEqual([]);
    expect(dirs.filter(([, mode]) => mode !== 0o700)).toEqual([]);
    expect(statSync(paths.dir).mode & 0o777).toBe(0o700);
  });
});

describe("the lock", () => {
  test("a verb fails with LOCKED while another command holds the lock, and takes over the lock of a killed holder", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const lockPath = clusterPaths(home, "local").lock;
    // A stand-in for a `cluster` command that holds the lock and is then killed with SIGKILL.
    const holder = spawn(
      process.execPath,
      ["-e", `import {acquireLock} from "${join(import.meta.dir, "..", "..", "lib", "base", "lock.ts")}"; acquireLock(${JSON.stringify(lockPath)}, {verb: "create", subject: "x"}); console.log("held"); setInterval(() => {}, 1000);`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const holderRecord = { pid: holder.pid!, startTime: null as string | null, argv: [] };
    try {
      await new Promise((resolve) => holder.stdout!.once("data", resolve));
      holderRecord.startTime = readStartTime(holder.pid!);
      const locked = await cli(home, ["shutdown", "--json"]);
      expect(locked.exitCode).toBe(1);
      expect(locked.json.error.code).toBe("LOCKED");
      expect(locked.json.error.message).toContain(`'cluster create' (pid ${holder.pid})`);

      process.kill(holder.pid!, "SIGKILL");
      await new Promise((resolve) => holder.once("exit", resolve));
      expect(readFileSync(lockPath, "utf8")).toContain(`${holder.pid} `);
      expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    } finally {
      await stopProcesses([holderRecord], { graceMs: 1_000 });
    }
  });
});
