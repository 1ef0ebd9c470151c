import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBytecode, leavesRoom, startRebuild } from "../../lib/startup/bytecode-cache.ts";
import { CLI_ENTRY, DAEMON_ENTRY, runMode, staleReason, type BytecodeStamp, type StatOf } from "../../lib/startup/run-mode.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { DAEMON_BUN_FLAGS, SOURCE_COMMANDS } from "../../lib/cluster/launch.ts";
import { pollUntil } from "../../lib/base/poll-until.ts";
import { readState } from "../../lib/cluster/state.ts";
import { cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(21000);
const GIB = 1024 ** 3;
const PROJECT = join(import.meta.dir, "..", "..");

describe("staleReason()", () => {
  const expected = { bun: "rev-a", root: "/p" };
  const stamp: BytecodeStamp = {
    format: 3,
    bun: "rev-a",
    root: "/p",
    entries: [CLI_ENTRY, DAEMON_ENTRY],
    build: "mx5abc-42-0",
    inputs: [
      ["lib/cli.ts", 100, 1000.5],
      ["package.json", 20, 2000],
    ],
  };
  const files: Record<string, { size: number; mtimeMs: number }> = {
    "/p/lib/cli.ts": { size: 100, mtimeMs: 1000.5 },
    "/p/package.json": { size: 20, mtimeMs: 2000 },
  };
  const statOf: StatOf = (path) => files[path];
  const changed = (path: string, change: Partial<{ size: number; mtimeMs: number }>): StatOf => (asked) =>
    asked === path ? { ...files[path]!, ...change } : files[asked];

  test.each<[string, unknown, StatOf, string | undefined]>([
    ["a stamp whose every input is as recorded can be used", stamp, statOf, undefined],
    ["a current.json that does not parse", null, statOf, "its current.json is not a build's"],
    ["a stamp that is not an object", "mx5abc-42-0", statOf, "its current.json is not a build's"],
    ["a build name that could name another directory", { ...stamp, build: "../x" }, statOf, "its current.json is not a build's"],
    ["an input that is not [path, size, time]", { ...stamp, inputs: [["lib/cli.ts", "100", 1]] }, statOf, "its current.json is not a build's"],
    ["another format (a build that waited for no lock, and kept two builds)", { ...stamp, format: 2 }, statOf, "it is of format 2, not 3"],
    ["another Bun", { ...stamp, bun: "rev-b" }, statOf, "it was built by Bun rev-b, not rev-a"],
    ["another project directory (moved or copied)", { ...stamp, root: "/old" }, statOf, "it was built for '/old', not '/p'"],
    ["other entries", { ...stamp, entries: ["lib/cli.ts"] }, statOf, "it was built for the entries lib/cli.ts"],
    ["an input gone", stamp, (path) => (path === "/p/package.json" ? undefined : files[path]), "'package.json' is gone"],
    ["an input of another size", stamp, changed("/p/lib/cli.ts", { size: 101 }), "'lib/cli.ts' changed"],
    ["an input modified since, same size", stamp, changed("/p/lib/cli.ts", { mtimeMs: 1000.6 }), "'lib/cli.ts' changed"],
  ])("staleReason(): %s", (_, given, stat, reason) => {
    expect(staleReason(given, expected, stat)).toBe(reason);
  });
});

describe("leavesRoom()", () => {
  test.each<[number, number, boolean]>([
    [10 * GIB, 0.1 * GIB, true],
    [1.2 * GIB, 0.1 * GIB, true],
    [1.05 * GIB, 0.1 * GIB, false],
    [0.5 * GIB, 0.1 * GIB, false],
  ])("leavesRoom(%d free, %d to build) is %p: a build leaves a gigabyte for the clusters' data", (free, build, expected) => {
    expect(leavesRoom(free, build)).toBe(expected);
  });
});

let saves = 0;

/**
 * Writes a source file as saved some time ago: buildBytecode() does not stamp a build with a
 * file saved as it began (it may have bundled the file as it was before).
 */
function saveSource(path: string, text: string, secondsAgo = 600): void {
  writeFileSync(path, text);
  const savedAt = Date.now() / 1000 - secondsAgo + saves++ / 1000;
  utimesSync(path, savedAt, savedAt);
}

/**
 * A project with both entries, each printing a greeting from a shared module (the CLI's `main`
 * returns it, its `explode` throws it; the daemon prints it for its role, or throws it when its
 * second argument is `--throw`), in a temp directory. Its daemon, like lib/engine/daemon.ts,
 * exits 2 when given no role.
 */
function tempProject(): { root: string; cacheDir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), "cluster-bytecode-"));
  mkdirSync(join(root, "lib", "engine"), { recursive: true });
  saveShared(root, `"hello from " + name`);
  saveSource(join(root, CLI_ENTRY), `import { greeting, fail } from "./shared.ts";\nexport function main(): string { return greeting("cli"); }\nexport function explode(): never { return fail("cli"); }\n`);
  saveDaemon(root, `import { greeting, fail } from "../shared.ts";\nif (!process.argv[2]) process.exit(2);\nif (process.argv[3] === "--throw") fail(process.argv[2]);\nconsole.log(greeting(process.argv[2]));\n`);
  return { root, cacheDir: join(root, "node_modules", ".cache", "cluster-bytecode"), remove: () => rmSync(root, { recursive: true, force: true }) };
}

function saveDaemon(root: string, text: string): void {
  saveSource(join(root, DAEMON_ENTRY), text);
}

/** Saves lib/shared.ts, whose greeting every entry prints, as returning `expression`; its line 3 throws. */
function saveShared(root: string, expression: string, secondsAgo?: number): void {
  const text = `export const greeting = (name: string): string => ${expression};\nexport function fail(name: string): never {\n  throw new Error("failed in " + name);\n}\n`;
  saveSource(join(root, "lib", "shared.ts"), text, secondsAgo);
}

function builds(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir).filter((name) => /^[0-9a-z]+-\d+-\d+$/.test(name)) : [];
}

function runDaemon(executable: string, args: string[]): { stdout: string; stderr: string; exitCode: number } {
  const child = Bun.spawnSync([executable, ...args], { env: process.env });
  return { stdout: child.stdout.toString(), stderr: child.stderr.toString(), exitCode: child.exitCode };
}

/** Builds `root`'s cache as `npm ci` and `bun run build` do: this project's lib/startup/bytecode-cache.ts run in that directory. */
function runBuildScript(root: string): void {
  const script = Bun.spawnSync([process.execPath, join(PROJECT, "lib", "startup", "bytecode-cache.ts"), "--root", root], { cwd: root, env: process.env });
  if (script.exitCode !== 0) throw new Error(`the build of '${root}' exited ${script.exitCode}: ${script.stderr}`);
}

function compiled(options: { root: string; cacheDir?: string }) {
  const mode = runMode(options);
  if (mode.mode !== "compiled") throw new Error(`expected the cache to be used, but: ${mode.reason}`);
  return mode;
}

describe("buildBytecode()", () => {
  test("buildBytecode() builds the CLI's bundle with its bytecode and source map and the daemons' executable, and both run; a fresh cache is left as it is", async () => {
    const project = tempProject();
    try {
      expect(runMode(project)).toMatchObject({ mode: "sources", rebuild: true, reason: "no bytecode cache is built ('bun run build' builds it)" });
      expect(await buildBytecode(project)).toMatchObject({ outcome: "built" });
      const { files } = compiled(project);
      expect(statSync(`${files.cli}.jsc`).size).toBeGreaterThan(0);
      expect(statSync(`${files.cli}.map`).size).toBeGreaterThan(0);
      expect((require(files.cli) as { main: () => string }).main()).toBe("hello from cli");
      expect(runDaemon(files.daemon, ["spu"]).stdout).toBe("hello from spu\n");
      const stamp = JSON.parse(readFileSync(join(project.cacheDir, "current.json"), "utf8")) as BytecodeStamp;
      expect(stamp.inputs.map(([path]) => path).sort()).toEqual(["lib/cli.ts", "lib/engine/daemon.ts", "lib/shared.ts"]);

      const before = builds(project.cacheDir);
      expect(await buildBytecode(project)).toEqual({ outcome: "fresh", build: before[0]! });
      expect(builds(project.cacheDir)).toEqual(before);
    } finally {
      project.remove();
    }
  });

  test("buildBytecode() builds anew once a source changed, the new build runs the new source, and only the new build is left", async () => {
    const project = tempProject();
    try {
      await buildBytecode(project);
      const first = compiled(project).build;
      saveShared(project.root, `"bye from " + name`);
      expect(runMode(project)).toMatchObject({ mode: "sources", reason: "the bytecode cache is stale: 'lib/shared.ts' changed", rebuild: true });
      expect(await buildBytecode(project)).toMatchObject({ outcome: "built" });
      const second = compiled(project);
      expect(second.build).not.toBe(first);
      expect(runDaemon(second.files.daemon, ["sc"]).stdout).toBe("bye from sc\n");
      expect(builds(project.cacheDir)).toEqual([second.build]);
    } finally {
      project.remove();
    }
  });

  test("a stack trace from the cache names the source file and line, from the CLI's bundle and from the daemons' executable", () => {
    const project = tempProject();
    try {
      runBuildScript(project.root);
      const { files } = compiled(project);
      let stack = "";
      try {
        (require(files.cli) as { explode: () => never }).explode();
      } catch (error) {
        stack = (error as Error).stack ?? "";
      }
      expect(stack).toContain(`at fail (${join(project.root, "lib", "shared.ts")}:3:`);
      expect(stack).toContain(`${join(project.root, CLI_ENTRY)}:3:`);
      // The executable's embedded map names the sources relative to the project.
      const spu = runDaemon(files.daemon, ["spu", "--throw"]);
      expect(spu.exitCode).not.toBe(0);
      expect(spu.stderr).toContain("failed in spu");
      expect(spu.stderr).toContain("at fail (lib/shared.ts:3:");
      expect(spu.stderr).toContain(`${DAEMON_ENTRY}:3:`);
    } finally {
      project.remove();
    }
  });

  test("a stack trace from the project's own cache names the source's line that threw", () => {
    runBuildScript(PROJECT);
    const { files } = compiled({ root: PROJECT });
    // The SC without its options throws in its argument parser.
    const sc = runDaemon(files.daemon, ["sc"]);
    expect(sc.exitCode).toBe(1);
    const [, path, line] = /at parseDaemonArgs \(([^:]+):(\d+):\d+\)/.exec(sc.stderr) ?? [];
    expect(path).toBe("lib/engine/daemon/daemon-args.ts");
    expect(readFileSync(join(PROJECT, path!), "utf8").split("\n")[Number(line) - 1]).toContain("throw new Error(`missing --");
  });

  test("buildBytecode() fails softly on a source that does not compile, leaving the cache as it was", async () => {
    const project = tempProject();
    try {
      await buildBytecode(project);
      const stampBefore = readFileSync(join(project.cacheDir, "current.json"), "utf8");
      const buildsBefore = builds(project.cacheDir);
      saveSource(join(project.root, "lib", "shared.ts"), `export const greeting = (;\n`);
      expect(await buildBytecode(project)).toMatchObject({ outcome: "failed", reason: expect.stringContaining("Bun.build failed") });
      expect(runMode(project).mode).toBe("sources");
      expect(readFileSync(join(project.cacheDir, "current.json"), "utf8")).toBe(stampBefore);
      expect(builds(project.cacheDir)).toEqual(buildsBefore);
    } finally {
      project.remove();
    }
  });

  test("buildBytecode() stamps no build whose daemons' executable does not answer as lib/engine/daemon.ts does without a role", async () => {
    const project = tempProject();
    try {
      saveDaemon(project.root, `console.log("no role needed");\n`);
      expect(await buildBytecode(project)).toMatchObject({ outcome: "failed", reason: expect.stringContaining("does not run here") });
      expect(builds(project.cacheDir)).toEqual([]);
    } finally {
      project.remove();
    }
  });

  test("buildBytecode() stamps no build with a source saved as it began, and stamps the next build", async () => {
    const project = tempProject();
    try {
      saveShared(project.root, `"now " + name`, 0);
      expect(await buildBytecode(project)).toEqual({ outcome: "failed", reason: "'lib/shared.ts' was saved while it was being built" });
      expect(builds(project.cacheDir)).toEqual([]);
      await Bun.sleep(50);
      expect(await buildBytecode(project)).toMatchObject({ outcome: "built" });
    } finally {
      project.remove();
    }
  });

  test("buildBytecode() fails softly where the cache cannot be written", async () => {
    const project = tempProject();
    try {
      // A directory without write permission would not stop root, who runs CI: a regular file stops everyone.
      writeFileSync(join(project.root, "a-file"), "");
      const cacheDir = join(project.root, "a-file", "cache");
      expect(await buildBytecode({ root: project.root, cacheDir })).toMatchObject({ outcome: "failed" });
      expect(runMode({ root: project.root, cacheDir }).mode).toBe("sources");
      expect(startRebuild({ root: project.root, cacheDir })).toBe(false);
    } finally {
      project.remove();
    }
  });
});

describe("runMode()", () => {
  test("runMode() runs the sources with CLUSTER_BYTECODE=off, fresh cache or not, and asks for no rebuild", async () => {
    const project = tempProject();
    try {
      await buildBytecode(project);
      expect(runMode(project).mode).toBe("compiled");
      expect(runMode({ ...project, env: { CLUSTER_BYTECODE: "off" } })).toEqual({ mode: "sources", reason: "CLUSTER_BYTECODE=off", rebuild: false });
    } finally {
      project.remove();
    }
  });

  test.each(["lib/cli.js", "lib/cli.js.jsc", "lib/cli.js.map", "cluster-daemon"])(
    "runMode() runs the sources, as broken, when the cache's %s is missing",
    async (output) => {
      const project = tempProject();
      try {
        await buildBytecode(project);
        const { build } = compiled(project);
        const missing = join(project.cacheDir, build, output);
        rmSync(missing);
        expect(runMode(project)).toEqual({ mode: "sources", reason: `the bytecode cache's '${missing}' is missing`, rebuild: true, broken: true });
        // A build mends it.
        expect(await buildBytecode(project)).toMatchObject({ outcome: "built" });
        expect(runMode(project).mode).toBe("compiled");
      } finally {
        project.remove();
      }
    },
  );
});

describe("startRebuild()", () => {
  /** Resolves once `project`'s cache is fresh, or throws after 20 s. */
  async function untilCompiled(project: { root: string; cacheDir: string }) {
    const fresh = await pollUntil(() => (runMode(project).mode === "compiled" ? true : undefined), { timeoutMs: 20_000, firstPauseMs: 20, maxPauseMs: 200 });
    if (!fresh) throw new Error(`no rebuild made ${project.root}'s cache fresh: ${runMode(project).reason}`);
  }

  test("startRebuild() starts one detached rebuild, not a second while it runs, and it leaves one fresh build", async () => {
    const project = tempProject();
    try {
      await buildBytecode(project);
      saveShared(project.root, `"rebuilt for " + name`);
      expect(startRebuild(project)).toBe(true);
      expect(startRebuild(project)).toBe(false);
      await untilCompiled(project);
      expect(runDaemon(compiled(project).files.daemon, ["spu"]).stdout).toBe("rebuilt for spu\n");
      expect(builds(project.cacheDir)).toHaveLength(1);
      // Its lease is cleared once it is done, so the next stale cache gets its rebuild.
      expect(await pollUntil(() => (existsSync(join(project.cacheDir, "rebuild")) ? undefined : true), { timeoutMs: 5000, firstPauseMs: 20 })).toBe(true);
    } finally {
      project.remove();
    }
  });

  test("startRebuild() after a rebuild that failed waits out its lease of a minute, and the failure is told", async () => {
    const project = tempProject();
    try {
      saveSource(join(project.root, "lib", "shared.ts"), `export const greeting = (;\n`);
      expect(startRebuild(project)).toBe(true);
      const lease = join(project.cacheDir, "rebuild");
      const failure = await pollUntil(() => (existsSync(lease) && readFileSync(lease, "utf8").length > 0 ? readFileSync(lease, "utf8") : undefined), {
        timeoutMs: 20_000,
        firstPauseMs: 20,
        maxPauseMs: 200,
      });
      expect(failure).toContain("Bun.build failed");
      expect(startRebuild(project)).toBe(false);
      saveShared(project.root, `"fixed for " + name`);
      const aMinuteAgo = Date.now() / 1000 - 61;
      utimesSync(lease, aMinuteAgo, aMinuteAgo);
      expect(startRebuild(project)).toBe(true);
      await untilCompiled(project);
      expect(runDaemon(compiled(project).files.daemon, ["sc"]).stdout).toBe("fixed for sc\n");
    } finally {
      project.remove();
    }
  });
});

/**
 * A copy of this project (cluster.ts, package.json, tsconfig.json, lib/) in a temp directory,
 * with its own node_modules of links to this one's packages, so it has a cache of its own.
 */
function projectCopy(): { root: string; cacheDir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), "cluster-copy-"));
  // With the sources' own times: a copy stamped now would look saved during the build that follows it.
  for (const file of ["cluster.ts", "package.json", "tsconfig.json"]) cpSync(join(PROJECT, file), join(root, file), { preserveTimestamps: true });
  cpSync(join(PROJECT, "lib"), join(root, "lib"), { recursive: true, preserveTimestamps: true });
  mkdirSync(join(root, "node_modules"));
  for (const entry of readdirSync(join(PROJECT, "node_modules"))) {
    if (entry !== ".cache") symlinkSync(join(PROJECT, "node_modules", entry), join(root, "node_modules", entry));
  }
  return { root, cacheDir: join(root, "node_modules", ".cache", "cluster-bytecode"), remove: () => rmSync(root, { recursive: true, force: true }) };
}

async function runCopy(root: string, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; json: any }> {
  const child = Bun.spawn([process.execPath, join(root, "cluster.ts"), ...args], { env: process.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr, json: stdout.startsWith("{") ? JSON.parse(stdout) : undefined };
}

describe("the CLI and its daemons from the bytecode cache", () => {
  const scArgv = (home: string) => readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "sc")!.argv;

  test("cluster.ts runs the edited code at once after an edit, from the sources, and its rebuild brings the cache back", async () => {
    const copy = projectCopy();
    const home = tempHome();
    try {
      runBuildScript(copy.root);
      const fresh = await runCopy(copy.root, ["status", "--home", home, "--json"]);
      expect(fresh.exitCode).toBe(4);
      expect(fresh.stderr).toBe("");
      expect(fresh.json.runMode).toEqual({ mode: "compiled", reason: "the bytecode cache matches every source" });

      const packageJson = join(copy.root, "package.json");
      saveSource(packageJson, readFileSync(packageJson, "utf8").replace(/"version": "[^"]+"/, `"version": "9.9.9-edited"`));
      // The first command after it runs the sources (no warning: that is every command's after an edit) and starts the rebuild.
      const stale = await runCopy(copy.root, ["status", "--home", home, "--json"]);
      expect(stale.stderr).toBe("");
      expect(stale.json.runMode).toEqual({ mode: "sources", reason: "the bytecode cache is stale: 'package.json' changed; a rebuild was started" });
      expect((await runCopy(copy.root, ["--version"])).stdout.trim()).toBe("9.9.9-edited");
      await untilCompiledCopy(copy);
      expect((await runCopy(copy.root, ["--version"])).stdout.trim()).toBe("9.9.9-edited");
      expect(builds(copy.cacheDir)).toHaveLength(1);
    } finally {
      copy.remove();
    }
  });

  test("cluster.ts with a cache missing an output runs the sources with a one-line warning, and status --json says why", async () => {
    const copy = projectCopy();
    const home = tempHome();
    try {
      runBuildScript(copy.root);
      const { build } = compiled(copy);
      const missing = join(copy.cacheDir, build, "cluster-daemon");
      rmSync(missing);
      const status = await runCopy(copy.root, ["status", "--home", home, "--json"]);
      expect(status.exitCode).toBe(4);
      expect(status.stderr).toBe(`warning: the bytecode cache's '${missing}' is missing; a rebuild was started; running the sources\n`);
      expect(status.json.runMode).toEqual({ mode: "sources", reason: `the bytecode cache's '${missing}' is missing; a rebuild was started` });
      await untilCompiledCopy(copy);
      expect(existsSync(missing.replace(build, compiled(copy).build))).toBe(true);
    } finally {
      copy.remove();
    }
  });

  async function untilCompiledCopy(copy: { root: string; cacheDir: string }) {
    const fresh = await pollUntil(() => (runMode(copy).mode === "compiled" ? true : undefined), { timeoutMs: 20_000, firstPauseMs: 20, maxPauseMs: 200 });
    if (!fresh) throw new Error(`no rebuild made the copy's cache fresh: ${runMode(copy).reason}`);
  }

  test("cluster create starts the daemons from the project's fresh bytecode cache, as its executable's sc and spu, and status --json says so", async () => {
    runBuildScript(PROJECT);
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"]);
    expect(created.exitCode).toBe(0);
    const { files } = compiled({ root: PROJECT });
    expect(scArgv(home).slice(0, 2)).toEqual([files.daemon, "sc"]);
    const spu = readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "spu")!;
    expect(spu.argv.slice(0, 2)).toEqual([files.daemon, "spu"]);
    const status = await cli(home, ["status", "--json"]);
    const json = status.json as { runMode: { mode: string }; processes: { runs: string }[] };
    expect(json.runMode.mode).toBe("compiled");
    expect(json.processes.map((process) => process.runs)).toEqual(["compiled", "compiled"]);
  });

  test("cluster create with CLUSTER_BYTECODE=off starts the daemons from their sources, and status --json says why", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"], { env: { CLUSTER_BYTECODE: "off" } });
    expect(created.exitCode).toBe(0);
    expect(scArgv(home).slice(0, 4)).toEqual(SOURCE_COMMANDS.sc);
    const status = await cli(home, ["status", "--json"], { env: { CLUSTER_BYTECODE: "off" } });
    const json = status.json as { runMode: unknown; processes: { runs: string }[] };
    expect(json.runMode).toEqual({ mode: "sources", reason: "CLUSTER_BYTECODE=off" });
    expect(json.processes.map((process) => process.runs)).toEqual(["sources", "sources"]);
  });

  test("the daemons read no .env or bunfig.toml of the directory the CLI runs in, from the cache and from the sources alike", async () => {
    runBuildScript(PROJECT);
    const cwd = mkdtempSync(join(tmpdir(), "cluster-cwd-"));
    try {
      writeFileSync(join(cwd, "bunfig.toml"), `preload = ["./preload.ts"]\n`);
      writeFileSync(join(cwd, "preload.ts"), `console.log("preloaded from the working directory");\n`);
      writeFileSync(join(cwd, ".env"), `CLUSTER_TEST_FROM_DOTENV=yes\n`);
      const { files } = compiled({ root: PROJECT });
      const dotenv = Bun.spawnSync([process.execPath, ...DAEMON_BUN_FLAGS, "-e", `console.log(process.env.CLUSTER_TEST_FROM_DOTENV ?? "unset")`], { cwd });
      expect(dotenv.stdout.toString()).toBe("unset\n");
      for (const command of [[files.daemon, "spu"], SOURCE_COMMANDS.spu]) {
        // A daemon without its options exits 1 with its usage; nothing was preloaded before it.
        const daemon = Bun.spawnSync(command, { cwd });
        expect(daemon.stdout.toString()).toBe("");
        expect(daemon.stderr.toString()).toContain("usage: spu.ts");
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
