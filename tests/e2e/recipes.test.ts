/**
 * The recipes in examples/Makefile, run for real with `make` against a temp home, checking
 * after each target what the cluster really is (phase, SPUs, pids), not what make printed.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { isAlive } from "../../lib/base/procs.ts";
import { CLI, cli, portBlocks, recordedProcesses, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(17500);
const EXAMPLES = join(import.meta.dir, "..", "..", "examples");

/** `make -C examples target vars...` with the CLI of this checkout and `home` as CLUSTER_HOME. */
async function make(home: string, target: string, vars: Record<string, string | number> = {}) {
  const assignments = Object.entries({ CLUSTER: `${process.execPath} ${CLI}`, ...vars }).map(([key, value]) => `${key}=${value}`);
  return $({
    quiet: true,
    nothrow: true,
    env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: "" },
  })`make --no-print-directory -C ${EXAMPLES} ${target} ${assignments}`;
}

async function statusOf(home: string) {
  const status = await cli(home, ["status", "--json"]);
  return { exitCode: status.exitCode, phase: status.json.phase, expected: status.json.spus.expected, online: status.json.spus.online };
}

function livePids(home: string): number[] {
  return recordedProcesses(home)
    .filter(isAlive)
    .map((entry) => entry.pid)
    .sort();
}

describe("examples/Makefile", () => {
  test("up creates, leaves a running cluster alone, and resumes a stopped or degraded one; down shuts it down", async () => {
    const home = tempHome();
    const portBase = nextPortBase();

    const created = await make(home, "up", { SPUS: 2, PORT_BASE: portBase });
    expect(created.stderr).not.toContain("Error");
    expect(created.exitCode).toBe(0);
    expect(await statusOf(home)).toEqual({ exitCode: 0, phase: "running", expected: [5001, 5002], online: [5001, 5002] });
    expect((await cli(home, ["status", "--json"])).json.portBase).toBe(portBase);
    const firstPids = livePids(home);

    const again = await make(home, "up", { SPUS: 3 });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("already running");
    expect(livePids(home)).toEqual(firstPids);

    expect((await make(home, "down")).exitCode).toBe(0);
    expect((await statusOf(home)).phase).toBe("stopped");
    expect(livePids(home)).toEqual([]);

    const resumed = await make(home, "up", { SPUS: 3 });
    expect(resumed.exitCode).toBe(0);
    expect(await statusOf(home)).toEqual({ exitCode: 0, phase: "running", expected: [5001, 5002], online: [5001, 5002] });
    const resumedPids = livePids(home);
    expect(resumedPids).toHaveLength(3);
    expect(resumedPids.some((pid) => firstPids.includes(pid))).toBe(false);

    const spu = recordedProcesses(home).find((entry) => entry.role === "spu" && entry.id === 5002)!;
    process.kill(spu.pid, "SIGKILL");
    expect((await statusOf(home)).phase).toBe("degraded");
    expect((await make(home, "up")).exitCode).toBe(0);
    expect((await statusOf(home)).phase).toBe("running");
    expect(livePids(home).filter((pid) => resumedPids.includes(pid))).toHaveLength(2);

    expect((await make(home, "down")).exitCode).toBe(0);
    expect(livePids(home)).toEqual([]);
  });

  test("reset makes a new cluster from scratch; status and logs show it, and status fails once it is down", async () => {
    const home = tempHome();
    const portBase = nextPortBase();
    expect((await make(home, "up", { PORT_BASE: portBase })).exitCode).toBe(0);
    const before = livePids(home);

    const reset = await make(home, "reset", { SPUS: 3, PORT_BASE: portBase });
    expect(reset.exitCode).toBe(0);
    expect(await statusOf(home)).toEqual({ exitCode: 0, phase: "running", expected: [5001, 5002, 5003], online: [5001, 5002, 5003] });
    expect(livePids(home).some((pid) => before.includes(pid))).toBe(false);

    const status = await make(home, "status");
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain("cluster 'local' is running");

    const logs = await make(home, "logs", { COMPONENT: "spu-5003", LINES: 1 });
    expect(logs.exitCode).toBe(0);
    // Its last line: the SPU's start, or the replica of the SC's consumer-offset topic it may open after.
    expect(logs.stdout).toMatch(/^spu-5003 \| \S+ (.*SPU 5003 |opened replica 'consumer-offset-0')/);
    expect(logs.stdout.trimEnd().split("\n")).toHaveLength(1);

    expect((await make(home, "down")).exitCode).toBe(0);
    const stopped = await make(home, "status");
    expect(stopped.exitCode).not.toBe(0);
    expect(stopped.stdout).toContain("cluster 'local' is stopped");
  });
});

describe("examples/Makefile on a machine without Bun on the PATH", () => {
  test("finds the project's own Bun (node_modules/.bin/bun, from npm ci) and runs up, status and down", async () => {
    const home = tempHome();
    const withoutBun = (process.env.PATH ?? "")
      .split(":")
      .filter((dir) => dir !== "" && !existsSync(join(dir, "bun")))
      .join(":");
    expect((await $({ nothrow: true, quiet: true, env: { PATH: withoutBun } })`sh -c ${"command -v bun"}`).exitCode).not.toBe(0);
    const makeWithoutBun = (target: string, vars: string[] = []) =>
      $({
        quiet: true,
        nothrow: true,
        env: { PATH: withoutBun, HOME: process.env.HOME ?? "/", CLUSTER_HOME: home, FLV_PROFILE_PATH: process.env.FLV_PROFILE_PATH! },
      })`make --no-print-directory -C ${EXAMPLES} ${target} ${vars}`;

    const up = await makeWithoutBun("up", [`PORT_BASE=${nextPortBase()}`]);
    expect(up.stderr).not.toContain("not found");
    expect(up.exitCode).toBe(0);
    const status = await makeWithoutBun("status");
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain("cluster 'local' is running");
    expect((await makeWithoutBun("down")).exitCode).toBe(0);
    expect(livePids(home)).toEqual([]);
  });
});

describe("package.json scripts", () => {
  /** `bun run script` in this checkout, with `home` as CLUSTER_HOME and automatic ports from `portBase`. */
  function bunRun(home: string, script: string, portBase: number) {
    return $({
      quiet: true,
      nothrow: true,
      cwd: join(import.meta.dir, "..", ".."),
      env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: "", CLUSTER_PORT_BASE: String(portBase) },
    })`${process.execPath} run ${script}`;
  }

  test("bun run up, status and down create, report and stop a real cluster", async () => {
    const home = tempHome();
    const portBase = nextPortBase();
    expect((await bunRun(home, "up", portBase)).exitCode).toBe(0);
    expect(await statusOf(home)).toEqual({ exitCode: 0, phase: "running", expected: [5001], online: [5001] });
    expect((await cli(home, ["status", "--json"])).json.portBase).toBe(portBase);

    const status = await bunRun(home, "status", portBase);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain("cluster 'local' is running");

    expect((await bunRun(home, "down", portBase)).exitCode).toBe(0);
    expect((await statusOf(home)).phase).toBe("stopped");
    expect(livePids(home)).toEqual([]);
  });
});
