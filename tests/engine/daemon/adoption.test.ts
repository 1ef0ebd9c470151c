/**
 * The record handshake (lib/engine/daemon/adoption.ts, lib/base/procs.ts): a daemon started with
 * `--await-record` does nothing until its starter says its pid is recorded, so a verb may start
 * it before the token it reads or the ports it binds are ready (lib/cluster/apply.ts launches every
 * process of a plan as the plan begins); and a starter that goes first leaves nothing behind.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { clusterPaths } from "../../../lib/cluster/home.ts";
import { ensureDir } from "../../../lib/base/files.ts";
import { planComponents, startComponents } from "../../../lib/cluster/launch.ts";
import { findBusyPorts, isAlive, stopProcesses } from "../../../lib/base/procs.ts";
import { resolveSpec } from "../../../lib/cluster/spec.ts";
import { ensureToken } from "../../../lib/cluster/token.ts";
import { cli, portBlocks, tempHome } from "../../helpers.ts";

const nextPortBase = portBlocks(29000);
const HOST = "127.0.0.1";

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** The SC of a fresh one-SPU cluster in a temp home, planned but not started. */
function scOfNewCluster() {
  const paths = clusterPaths(tempHome(), "local");
  ensureDir(paths.dir);
  const spec = resolveSpec({ spus: 1 }, paths, nextPortBase());
  const sc = planComponents(spec, paths).find((component) => component.role === "sc")!;
  return { paths, sc };
}

/** Pids of the processes whose command line names `text`. */
function processesNaming(text: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("the record handshake", () => {
  test("a daemon started with --await-record binds no port and reads no token until its record is confirmed, then serves", async () => {
    const { paths, sc } = scOfNewCluster();
    // Started before its token exists, as `create` starts it before writing the token.
    const launched = startComponents([sc], paths);
    try {
      await Bun.sleep(500);
      expect(launched.entries.every(isAlive)).toBe(true);
      expect(await findBusyPorts(HOST, sc.ports)).toEqual([]);
      ensureToken(paths);
      launched.confirmRecorded();
      await until("the SC to listen on both ports", async () => (await findBusyPorts(HOST, sc.ports)).length === sc.ports.length);
      expect(launched.entries.every(isAlive)).toBe(true);
    } finally {
      await stopProcesses(launched.entries, { graceMs: 2_000 });
    }
  });

  test("a daemon whose starter ends before confirming its record exits by itself, having bound nothing", async () => {
    const { paths, sc } = scOfNewCluster();
    ensureToken(paths);
    const child = Bun.spawn(sc.argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    try {
      await Bun.sleep(300);
      child.stdin.end();
      expect(await child.exited).toBe(1);
      expect(await new Response(child.stdout).text()).toContain("SC exiting: the command that started it ended before recording its pid");
      expect(await findBusyPorts(HOST, sc.ports)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("a resume that fails with PORT_IN_USE after launching its processes stops them before it returns: none is left, none says its starter died", async () => {
    const home = tempHome();
    const base = nextPortBase();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(base)])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(base + 20, HOST, resolve));
    try {
      const result = await cli(home, ["resume", "--json"]);
      expect(result.json.error.code).toBe("PORT_IN_USE");
      expect(processesNaming(home)).toEqual([]);
      const logs = clusterPaths(home, "local").logs;
      const said = readdirSync(logs).map((file) => readFileSync(`${logs}/${file}`, "utf8")).join("");
      expect(said).not.toContain("ended before recording its pid");
    } finally {
      squatter.close();
    }
  });
});
