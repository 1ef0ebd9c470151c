import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_ENTRY, compiledFiles, DAEMON_ENTRY, ensureBytecode, leavesRoom, staleReason, type BytecodeStamp, type StatOf } from "../../lib/startup/bytecode-cache.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { SOURCE_COMMANDS } from "../../lib/cluster/launch.ts";
import { readState } from "../../lib/cluster/state.ts";
import { cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(21000);
const GIB = 1024 ** 3;

describe("staleReason()", () => {
  const expected = { bun: "rev-a", root: "/p" };
  const stamp: BytecodeStamp = {
    format: 2,
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
    ["no stamp", undefined, statOf, "no valid current.json"],
    ["a stamp that is not an object", "mx5abc-42-0", statOf, "no valid current.json"],
    ["a build name that could name another directory", { ...stamp, build: "../x" }, statOf, "no valid current.json"],
    ["an input that is not [path, size, time]", { ...stamp, inputs: [["lib/cli.ts", "100", 1]] }, statOf, "no valid current.json"],
    ["another format (the CLI and daemons bundled apart, before the daemons were an executable)", { ...stamp, format: 1 }, statOf, "it is of format 1, not 2"],
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
 * Writes a source file as saved some time ago: ensureBytecode() does not stamp a build with a
 * file saved as it began (it may have bundled the file as it was before).
 */
function saveSource(path: string, text: string, secondsAgo = 600): void {
  writeFileSync(path, text);
  const savedAt = Date.now() / 1000 - secondsAgo + saves++ / 1000;
  utimesSync(path, savedAt, savedAt);
}

/**
 * A project with both entries, each printing a greeting from a shared module, in a fresh temp
 * directory. Its daemon, like lib/engine/daemon.ts, exits 2 when given no role.
 */
function tempProject(): { root: string; cacheDir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), "cluster-bytecode-"));
  mkdirSync(join(root, "lib", "engine"), { recursive: true });
  saveShared(root, `"hello from " + name`);
  saveSource(join(root, "lib", "cli.ts"), `import { greeting } from "./shared.ts";\nexport function main(): string { return greeting("cli"); }\n`);
  saveDaemon(root, `import { greeting } from "../shared.ts";\nif (!process.argv[2]) process.exit(2);\nconsole.log(greeting(process.argv[2]));\n`);
  return { root, cacheDir: join(root, "node_modules", ".cache", "cluster-bytecode"), remove: () => rmSync(root, { recursive: true, force: true }) };
}

function saveDaemon(root: string, text: string): void {
  saveSource(join(root, "lib", "engine", "daemon.ts"), text);
}

/** Saves lib/shared.ts, whose greeting both entries print, as returning `expression`. */
function saveShared(root: string, expression: string, secondsAgo?: number): void {
  saveSource(join(root, "lib", "shared.ts"), `export const greeting = (name: string): string => ${expression};\n`, secondsAgo);
}

function builds(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir).filter((name) => name !== "current.json" && name !== "build.lock") : [];
}

function runDaemon(executable: string, role: string): string {
  return Bun.spawnSync([executable, role], { env: process.env }).stdout.toString();
}

describe("ensureBytecode()", () => {
  test("ensureBytecode() builds the CLI's bundle with its bytecode and the daemons' executable, and both run; a fresh cache is left as it is", async () => {
    const project = tempProject();
    try {
      expect(compiledFiles(project)).toBeUndefined();
      expect(await ensureBytecode(project)).toBe(true);
      const compiled = compiledFiles(project)!;
      expect(statSync(`${compiled.cli}.jsc`).size).toBeGreaterThan(0);
      expect((require(compiled.cli) as { main: () => string }).main()).toBe("hello from cli");
      expect(runDaemon(compiled.daemon, "spu")).toBe("hello from spu\n");
      const stamp = JSON.parse(readFileSync(join(project.cacheDir, "current.json"), "utf8")) as BytecodeStamp;
      expect(stamp.inputs.map(([path]) => path).sort()).toEqual(["lib/cli.ts", "lib/engine/daemon.ts", "lib/shared.ts"]);

      const before = builds(project.cacheDir);
      expect(await ensureBytecode(project)).toBe(true);
      expect(builds(project.cacheDir)).toEqual(before);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() builds anew once a source changed, the new build runs the new source, and one build before the current is kept", async () => {
    const project = tempProject();
    try {
      await ensureBytecode(project);
      const first = compiledFiles(project)!.daemon;
      saveShared(project.root, `"bye from " + name`);
      expect(compiledFiles(project)).toBeUndefined();
      expect(await ensureBytecode(project)).toBe(true);
      const second = compiledFiles(project)!.daemon;
      expect(runDaemon(second, "sc")).toBe("bye from sc\n");
      // A command that read current.json a moment earlier may be starting a daemon from the build before.
      expect(existsSync(first)).toBe(true);
      saveShared(project.root, `"again from " + name`);
      expect(await ensureBytecode(project)).toBe(true);
      expect(existsSync(first)).toBe(false);
      expect(existsSync(second)).toBe(true);
      expect(builds(project.cacheDir)).toHaveLength(2);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() fails softly on a source that does not compile, leaving the cache as it was", async () => {
    const project = tempProject();
    try {
      await ensureBytecode(project);
      const stampBefore = readFileSync(join(project.cacheDir, "current.json"), "utf8");
      const buildsBefore = builds(project.cacheDir);
      saveSource(join(project.root, "lib", "shared.ts"), `export const greeting = (;\n`);
      expect(await ensureBytecode(project)).toBe(false);
      expect(compiledFiles(project)).toBeUndefined();
      expect(readFileSync(join(project.cacheDir, "current.json"), "utf8")).toBe(stampBefore);
      expect(builds(project.cacheDir)).toEqual(buildsBefore);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() stamps no build whose daemons' executable does not answer as lib/engine/daemon.ts does without a role", async () => {
    const project = tempProject();
    try {
      saveDaemon(project.root, `console.log("no role needed");\n`);
      expect(await ensureBytecode(project)).toBe(false);
      expect(builds(project.cacheDir)).toEqual([]);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() stamps no build with a source saved as it began, and stamps the next build", async () => {
    const project = tempProject();
    try {
      saveShared(project.root, `"now " + name`, 0);
      expect(await ensureBytecode(project)).toBe(false);
      expect(builds(project.cacheDir)).toEqual([]);
      await Bun.sleep(50);
      expect(await ensureBytecode(project)).toBe(true);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() fails softly where the cache cannot be written", async () => {
    const project = tempProject();
    try {
      // A directory without write permission would not stop root, who runs CI: a regular file stops everyone.
      writeFileSync(join(project.root, "a-file"), "");
      const cacheDir = join(project.root, "a-file", "cache");
      expect(await ensureBytecode({ root: project.root, cacheDir })).toBe(false);
      expect(compiledFiles({ root: project.root, cacheDir })).toBeUndefined();
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() and compiledFiles() use nothing with CLUSTER_BYTECODE=off", async () => {
    const project = tempProject();
    try {
      const off = { ...project, env: { CLUSTER_BYTECODE: "off" } };
      expect(await ensureBytecode(off)).toBe(false);
      expect(builds(project.cacheDir)).toEqual([]);
      await ensureBytecode(project);
      expect(compiledFiles(project)).toBeDefined();
      expect(compiledFiles(off)).toBeUndefined();
    } finally {
      project.remove();
    }
  });
});

describe("the CLI and its daemons from the bytecode cache", () => {
  const scArgv = (home: string) => readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "sc")!.argv;

  test("cluster create starts the daemons from the project's fresh bytecode cache, as its executable's sc and spu", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"]);
    expect(created.exitCode).toBe(0);
    const compiled = compiledFiles();
    expect(compiled).toBeDefined();
    expect(scArgv(home).slice(0, 2)).toEqual([compiled!.daemon, "sc"]);
    const spu = readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "spu")!;
    expect(spu.argv.slice(0, 2)).toEqual([compiled!.daemon, "spu"]);
  });

  test("cluster create with CLUSTER_BYTECODE=off starts the daemons from their sources", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"], { env: { CLUSTER_BYTECODE: "off" } });
    expect(created.exitCode).toBe(0);
    expect(scArgv(home).slice(0, 2)).toEqual(SOURCE_COMMANDS.sc);
  });
});
