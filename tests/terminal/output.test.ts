/**
 * Output for people and for scripts: progress redrawn on a terminal (driven here through a
 * real pseudo-terminal with util-linux `script`), plain lines when piped, nothing with
 * `--quiet`, one JSON document with `--json`, and `--dry-run` plans that change nothing.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { findBusyPorts, isAlive } from "../../lib/base/procs.ts";
import { progressMode, type ProgressMode } from "../../lib/terminal/output.ts";
import { readState } from "../../lib/cluster/state.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(18000);
const ESCAPE = "\x1b[";

describe("progressMode()", () => {
  test.each<[object, boolean, ProgressMode]>([
    [{}, true, "tty"],
    [{}, false, "plain"],
    [{ json: true }, true, "silent"],
    [{ quiet: true }, true, "silent"],
    [{ quiet: true }, false, "silent"],
  ])("progressMode(%j) on a terminal=%p is %p", (argv, isTty, mode) => {
    expect(progressMode(argv, isTty)).toBe(mode);
  });
});

describe("progress", () => {
  test("create shows redrawn progress on a terminal and plain lines when piped", async () => {
    const home = tempHome();
    const base = String(nextPortBase());
    // `script` gives the command a real pseudo-terminal and copies what it printed to stdout.
    const command = [process.execPath, CLI, "create", "--spus", "3", "--port-base", base, "--home", home].join(" ");
    const onTerminal = await $({ nothrow: true, quiet: true })`script -q -e -c ${command} /dev/null`;
    expect(onTerminal.exitCode).toBe(0);
    expect(onTerminal.stdout).toContain(`${ESCAPE}2K`);
    expect(onTerminal.stdout).toContain("starting the SC and 3 SPU(s) of cluster 'local'");
    expect(onTerminal.stdout).toContain("cluster 'local' is running: SPUs 5001, 5002 and 5003 online");

    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const piped = await cli(home, ["resume"]);
    expect(piped.exitCode).toBe(0);
    expect(piped.stderr).toContain("starting sc, spu-5001, spu-5002, spu-5003 of cluster 'local'\n");
    expect(piped.stderr).not.toContain(ESCAPE);
    expect(piped.stdout).toStartWith("cluster 'local' is running: started sc, spu-5001, spu-5002, spu-5003");
  });

  test("--quiet prints nothing on success and only the error on failure", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--quiet"]);
    expect(created.exitCode).toBe(0);
    expect(created.stdout + created.stderr).toBe("");
    const again = await cli(home, ["create", "--quiet"]);
    expect(again.exitCode).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("error: cluster 'local' already exists (running)");
  });
});

describe("--dry-run", () => {
  test("create --dry-run lists the processes, ports and files, and starts and writes nothing", async () => {
    const home = tempHome();
    const base = nextPortBase();
    const planned = await cli(home, ["create", "--spus", "2", "--port-base", String(base), "--dry-run", "--json"]);
    expect(planned.exitCode).toBe(0);
    const starts = planned.json.actions.filter((action: { action: string }) => action.action === "start");
    expect(starts.map((action: { component: string; ports: number[] }) => [action.component, action.ports])).toEqual([
      ["sc", [base + 3, base + 4]],
      ["spu-5001", [base + 10, base + 11]],
      ["spu-5002", [base + 20, base + 21]],
    ]);
    expect(starts[1].argv).toContain("--data");
    expect(planned.json.actions.slice(0, 3)).toEqual([
      { action: "check-ports", host: "127.0.0.1", ports: [base + 3, base + 4, base + 10, base + 11, base + 20, base + 21] },
      { action: "write", path: join(home, "local", "cluster.yaml") },
      { action: "write", path: join(home, "local", "token") },
    ]);
    expect(readdirSync(home)).toEqual([]);
    expect(await findBusyPorts("127.0.0.1", [base + 3, base + 4, base + 10, base + 11, base + 20, base + 21])).toEqual([]);

    const text = await cli(home, ["create", "--spus", "2", "--port-base", String(base), "--dry-run"]);
    expect(text.stdout).toContain("create of cluster 'local' would (dry run, nothing done):");
    expect(readdirSync(home)).toEqual([]);
  });

  test("shutdown, resume and delete --dry-run say what they would do and leave everything running", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const processes = readState(clusterPaths(home, "local")).processes;

    const shutdown = await cli(home, ["shutdown", "--dry-run", "--json"]);
    expect(shutdown.exitCode).toBe(0);
    const signalled = shutdown.json.actions.filter((action: { action: string }) => action.action === "signal");
    // The SC first, then the SPUs.
    expect(signalled.map((action: { component: string }) => action.component)).toEqual(["sc", "spu-5001", "spu-5002"]);
    expect(signalled.map((action: { pid: number }) => action.pid).sort()).toEqual(processes.map((entry) => entry.pid).sort());

    const resumed = await cli(home, ["resume", "--dry-run", "--json"]);
    expect(resumed.json).toEqual({ dryRun: true, verb: "resume", name: "local", note: "every process is already running", actions: [] });

    const deleted = await cli(home, ["delete", "--dry-run", "--json"]);
    expect(deleted.json.actions.at(-1)).toEqual({ action: "remove", path: join(home, "local") });

    expect(processes.every(isAlive)).toBe(true);
    expect(existsSync(join(home, "local", "cluster.yaml"))).toBe(true);
    expect((await cli(home, ["status"])).exitCode).toBe(0);
  });

  test("resume --dry-run of a stopped cluster lists every process it would start, and starts none", async () => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(base)])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const planned = await cli(home, ["resume", "--dry-run", "--json"]);
    expect(planned.exitCode).toBe(0);
    const starts = planned.json.actions.filter((action: { action: string }) => action.action === "start");
    expect(starts.map((action: { component: string }) => action.component)).toEqual(["sc", "spu-5001", "spu-5002"]);
    expect((await cli(home, ["status"])).exitCode).toBe(3);
  });
});

describe("help", () => {
  test.each(["create", "shutdown", "resume", "delete", "status", "list", "spu", "topic", "produce", "consume", "logs", "diagnostics", "completion"])(
    "cluster %s --help shows at least one example",
    async (verb) => {
      const help = await cli(tempHome(), [verb, "--help"]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toMatch(/\nExamples:\n {2}\S/);
    },
  );

  test("cluster --version prints the package version", async () => {
    const version = await cli(tempHome(), ["--version"]);
    expect(version.stdout.trim()).toBe((await Bun.file(join(import.meta.dir, "..", "..", "package.json")).json()).version);
  });
});
