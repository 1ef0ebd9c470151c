/**
 * Faults, races and broken files around the lifecycle: a `cluster` command killed mid-verb,
 * verbs racing each other, and hand-broken state. The promise under test: every command either
 * does what it says or leaves the cluster in a phase the next command can clean up, and no
 * process ever runs that `status` cannot see.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { findBusyPorts, isAlive } from "../../lib/base/procs.ts";
import { portLayout, specPorts } from "../../lib/cluster/spec.ts";
import { readState } from "../../lib/cluster/state.ts";
import { CLI, cli, portBlocks, recordedProcesses, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(12000);

function clusterPortsOf(base: number, spus: number): number[] {
  return specPorts(portLayout(base, spus));
}

/**
 * The ports among `ports` still bound after up to two seconds. A daemon whose starter was
 * killed before recording it exits by itself, but needs a few milliseconds to notice.
 */
async function portsStillBusy(ports: number[]): Promise<number[]> {
  let busy = await findBusyPorts("127.0.0.1", ports);
  for (let attempt = 0; busy.length > 0 && attempt < 20; attempt++) {
    await Bun.sleep(100);
    busy = await findBusyPorts("127.0.0.1", busy);
  }
  return busy;
}

/** Starts `cluster ...args` and kills it with SIGKILL after `delayMs`; resolves when it is gone. */
function killMidway(home: string, args: string[], delayMs: number): Promise<void> {
  const at = performance.now() + delayMs;
  return killWhen(home, args, () => performance.now() >= at);
}

/**
 * Starts `cluster ...args` and kills it with SIGKILL the moment `reached()` is true (checked
 * every millisecond), so the kill lands at a step of the verb whatever the machine's load.
 */
async function killWhen(home: string, args: string[], reached: () => boolean): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CLUSTER_HOME: home }, stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !reached()) await Bun.sleep(1);
  child.kill("SIGKILL");
  await exited;
}

/** The recorded state of cluster 'local', or undefined while it cannot be read. */
function stateOf(home: string) {
  try {
    return readState(clusterPaths(home, "local"));
  } catch {
    return undefined;
  }
}

describe("a cluster command killed with SIGKILL at a step of its work", () => {
  // Each step as the files show it: the spec saved; processes recorded but not confirmed.
  const steps: [string, (home: string) => boolean][] = [
    ["once cluster.yaml is saved", (home) => existsSync(join(home, "local", "cluster.yaml"))],
    ["once its processes are recorded", (home) => (stateOf(home)?.processes.length ?? 0) > 0],
  ];

  test.each(steps)("create killed %s: resume or delete brings the cluster to a clean phase, every port free", async (_, reached) => {
    const home = tempHome();
    const base = nextPortBase();
    await killWhen(home, ["create", "--spus", "3", "--port-base", String(base)], () => reached(home));
    const resumed = await cli(home, ["resume", "--json"]);
    if (resumed.exitCode === 0) expect(resumed.json.spus.online).toEqual([5001, 5002, 5003]);
    else expect(["NO_CLUSTER", "STATE_CORRUPT"]).toContain(resumed.json.error.code);
    expect((await cli(home, ["delete"])).exitCode).toBe(0);
    expect(await portsStillBusy(clusterPortsOf(base, 3))).toEqual([]);
  });

  test("resume killed once its processes are recorded: the next resume completes with every process alive", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    await killWhen(home, ["resume"], () => (stateOf(home)?.processes.length ?? 0) > 0);
    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(0);
    const state = readState(clusterPaths(home, "local"));
    expect(state.processes.length).toBe(4);
    expect(state.processes.every(isAlive)).toBe(true);
  });
});

describe("a cluster command killed with SIGKILL mid-verb", () => {
  // Points from before the lock is taken to after the SPUs are confirmed.
  const points = [15, 40, 70, 100, 140];

  test.each(points)("create killed after %p ms: delete cleans up and frees every port", async (delayMs) => {
    const home = tempHome();
    const base = nextPortBase();
    await killMidway(home, ["create", "--spus", "3", "--port-base", String(base)], delayMs);
    // Whatever the create left, a new create refuses it or succeeds; delete always cleans up.
    const deleted = await cli(home, ["delete", "--json"]);
    expect(deleted.exitCode).toBe(0);
    expect(existsSync(join(home, "local"))).toBe(false);
    expect(await portsStillBusy(clusterPortsOf(base, 3))).toEqual([]);
  });

  test.each(points)("create killed after %p ms: resume or delete brings the cluster to a clean phase", async (delayMs) => {
    const home = tempHome();
    const base = nextPortBase();
    await killMidway(home, ["create", "--spus", "3", "--port-base", String(base)], delayMs);
    const resumed = await cli(home, ["resume", "--json"]);
    if (resumed.exitCode === 0) {
      expect(resumed.json.spus.online).toEqual([5001, 5002, 5003]);
      expect((await cli(home, ["status"])).exitCode).toBe(0);
    } else {
      // Killed before the spec was saved: there is nothing to resume, and delete removes the rest.
      expect(["NO_CLUSTER", "STATE_CORRUPT"]).toContain(resumed.json.error.code);
      expect((await cli(home, ["delete"])).exitCode).toBe(0);
      expect(await portsStillBusy(clusterPortsOf(base, 3))).toEqual([]);
    }
  });

  test.each(points)("shutdown killed after %p ms: the next shutdown stops everything", async (delayMs) => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "3", "--port-base", String(base)])).exitCode).toBe(0);
    const started = recordedProcesses(home);
    await killMidway(home, ["shutdown"], delayMs);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    expect(started.filter(isAlive)).toEqual([]);
    expect((await cli(home, ["status"])).exitCode).toBe(3);
    expect(await findBusyPorts("127.0.0.1", clusterPortsOf(base, 3))).toEqual([]);
  });

  test.each(points)("resume killed after %p ms: the next resume completes", async (delayMs) => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    await killMidway(home, ["resume"], delayMs);
    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.json.spus.online).toEqual([5001, 5002, 5003]);
    const state = readState(clusterPaths(home, "local"));
    expect(state.processes.length).toBe(4);
    expect(state.processes.every(isAlive)).toBe(true);
  });
});

describe("verbs racing each other", () => {
  test("two creates of one name at once: exactly one creates, the other fails with LOCKED or CLUSTER_EXISTS", async () => {
    const home = tempHome();
    const base = String(nextPortBase());
    const results = await Promise.all([
      cli(home, ["create", "--spus", "2", "--port-base", base, "--json"]),
      cli(home, ["create", "--spus", "2", "--port-base", base, "--json"]),
    ]);
    const winners = results.filter((result) => result.exitCode === 0);
    const losers = results.filter((result) => result.exitCode !== 0);
    expect(winners.length).toBe(1);
    expect(["LOCKED", "CLUSTER_EXISTS"]).toContain(losers[0]!.json.error.code);
    const state = readState(clusterPaths(home, "local"));
    expect(state.processes.length).toBe(3);
    expect(state.processes.every(isAlive)).toBe(true);
    expect((await cli(home, ["status"])).exitCode).toBe(0);
  });

  test("two creates of different names at once without --port-base get different port blocks", async () => {
    const home = tempHome();
    // Automatic blocks start at CLUSTER_PORT_BASE (10000 here, away from the default 9000).
    const env = { CLUSTER_PORT_BASE: "10000" };
    const [first, second] = await Promise.all([
      cli(home, ["create", "--name", "left", "--json"], { env }),
      cli(home, ["create", "--name", "right", "--json"], { env }),
    ]);
    expect(first!.exitCode).toBe(0);
    expect(second!.exitCode).toBe(0);
    expect([first!.json.portBase, second!.json.portBase].sort()).toEqual([10000, 11000]);
  });

  test("shutdown racing resume ends running or stopped, never in between", async () => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(base)])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const results = await Promise.all([cli(home, ["resume", "--json"]), cli(home, ["shutdown", "--json"])]);
    for (const result of results) {
      if (result.exitCode !== 0) expect(result.json.error.code).toBe("LOCKED");
    }
    const status = await cli(home, ["status", "--json"]);
    expect(["running", "stopped"]).toContain(status.json.phase);
    if (status.json.phase === "stopped") expect(await findBusyPorts("127.0.0.1", clusterPortsOf(base, 2))).toEqual([]);
  });

  test("delete racing resume ends with the cluster gone or running, and nothing orphaned", async () => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(base)])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const [resumed, deleted] = await Promise.all([cli(home, ["resume", "--json"]), cli(home, ["delete", "--json"])]);
    const status = await cli(home, ["status", "--json"]);
    if (deleted!.exitCode === 0) {
      // The resume lost the race (LOCKED or NO_CLUSTER), or won it outright and the delete came after.
      expect(status.json.phase).toBe("absent");
      if (resumed!.exitCode !== 0) expect(["LOCKED", "NO_CLUSTER"]).toContain(resumed!.json.error.code);
      expect(await portsStillBusy(clusterPortsOf(base, 2))).toEqual([]);
    } else {
      expect(deleted!.json.error.code).toBe("LOCKED");
      expect(status.json.phase).toBe("running");
    }
  });
});

describe("hand-broken files", () => {
  test.each([
    ["state.yaml", "intent: running\nprocesses:\n  - role: sc\n    pid: [unclosed\n", "state.yaml' is not valid YAML", "line 5"],
    ["cluster.yaml", "spus: [\n", "cluster.yaml' is not valid YAML", "line 2"],
    ["state.yaml", "intent: running\nprocesses: 7\n", "state.yaml' does not describe processes", ""],
    ["cluster.yaml", "name: local\n", "cluster.yaml' does not describe a cluster", ""],
    ["metadata/SPU/custom-spu-5001.yaml", "name: custom-spu-5001\n", "custom-spu-5001.yaml' is not an SPU object", ""],
    ["metadata/SPU/custom-spu-5001.yaml", "spec: {spuId: 5001\n", "custom-spu-5001.yaml' is not valid YAML", "line 2"],
  ])("a broken %s is named by status (exit 1), and delete still removes the cluster", async (file, contents, message, line) => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--port-base", String(base)])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    writeFileSync(join(home, "local", file), contents);

    const status = await cli(home, ["status", "--json"]);
    expect(status.exitCode).toBe(1);
    expect(status.json.problems.join("\n")).toContain(message);
    expect(status.json.problems.join("\n")).toContain(line);
    const resumed = await cli(home, ["resume", "--json"]);
    expect(resumed.exitCode).toBe(1);
    expect(resumed.json.error.code).toBe("STATE_CORRUPT");
    expect(resumed.json.error.hint).toContain("cluster delete");

    expect((await cli(home, ["delete"])).exitCode).toBe(0);
    expect(existsSync(join(home, "local"))).toBe(false);
  });
});

describe("a home that is not what it should be", () => {
  test("a file where a cluster's directory should be: status names it, create refuses, delete leaves it to its owner", async () => {
    const home = tempHome();
    writeFileSync(join(home, "local"), "not a cluster");
    const status = await cli(home, ["status", "--json"]);
    expect(status.exitCode).toBe(1);
    expect(status.json.problems.join("\n")).toContain("cannot be read (ENOTDIR)");
    expect((await cli(home, ["create", "--json"])).json.error.code).toBe("CLUSTER_EXISTS");
    const deleted = await cli(home, ["delete", "--json"]);
    expect(deleted.exitCode).toBe(1);
    expect(deleted.json.error.message).toContain("is not a directory");
    expect(existsSync(join(home, "local"))).toBe(true);
  });

  test("list of a home that is a file fails with HOME_INVALID", async () => {
    const home = tempHome();
    const file = join(home, "file");
    writeFileSync(file, "");
    const listed = await cli(home, ["list", "--home", file, "--json"]);
    expect(listed.exitCode).toBe(1);
    expect(listed.json.error.code).toBe("HOME_INVALID");
  });
});

describe("bad input: a clear error naming the fix, and nothing written", () => {
  test.each([
    ["a spec file that does not exist", "missing.yaml", null, "cannot be read"],
    ["a spec file that is not YAML", "broken.yaml", "spus: [3\nportBase: 1\n", "is not valid YAML"],
    ["a spec file with a wrong type", "typed.yaml", "spus: three\n", 'spus: must be an integer (got "three")'],
    ["a spec file that is a list", "list.yaml", "- spus: 3\n", "(root): must be a mapping"],
  ])("create --spec with %s fails with SPEC_INVALID", async (_, file, contents, message) => {
    const home = tempHome();
    const spec = join(home, file);
    if (contents !== null) writeFileSync(spec, contents);
    const result = await cli(home, ["create", "--spec", spec, "--json"]);
    expect(result.exitCode).toBe(1);
    expect(result.json.error.code).toBe("SPEC_INVALID");
    expect(result.json.error.message).toContain(message);
    expect(existsSync(join(home, "local"))).toBe(false);
  });

  test("create on a port block another cluster of the home holds, even stopped, fails with PORT_IN_USE naming it", async () => {
    const home = tempHome();
    const base = String(nextPortBase());
    expect((await cli(home, ["create", "--name", "first", "--port-base", base])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown", "--name", "first"])).exitCode).toBe(0);
    const clash = await cli(home, ["create", "--name", "second", "--port-base", base, "--json"]);
    expect(clash.exitCode).toBe(1);
    expect(clash.json.error.code).toBe("PORT_IN_USE");
    expect(clash.json.error.message).toContain("belongs to cluster 'first'");
    expect(existsSync(join(home, "second"))).toBe(false);
  });

  test("produce to a topic that does not exist fails with NO_TOPIC", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const produced = await cli(home, ["produce", "nope", "--json"], { input: "a\n" });
    expect(produced.exitCode).toBe(1);
    expect(produced.json.error.code).toBe("NO_TOPIC");
  });

  test("a CLUSTER_PORT_BASE that is not a port is a usage error", async () => {
    const home = tempHome();
    const result = await cli(home, ["create"], { env: { CLUSTER_PORT_BASE: "abc" } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("CLUSTER_PORT_BASE must be an integer (got 'abc')");
    expect(existsSync(join(home, "local"))).toBe(false);
  });
});
