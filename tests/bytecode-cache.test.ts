import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BYTECODE_ENTRIES, compiledEntries, ensureBytecode, staleReason, type BytecodeStamp, type StatOf } from "../lib/bytecode-cache.ts";
import { clusterPaths } from "../lib/home.ts";
import { SOURCE_SCRIPTS } from "../lib/launch.ts";
import { readState } from "../lib/state.ts";
import { cli, portBlocks, tempHome } from "./helpers.ts";

const nextPortBase = portBlocks(21000);

describe("staleReason()", () => {
  const expected = { bun: "rev-a", root: "/p" };
  const stamp: BytecodeStamp = {
    format: 1,
    bun: "rev-a",
    root: "/p",
    entries: [...BYTECODE_ENTRIES],
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
    ["another format", { ...stamp, format: 0 }, statOf, "it is of format 0, not 1"],
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

/** A project with the three entries, each printing its name, in a fresh temp directory. */
function tempProject(): { root: string; cacheDir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), "cluster-bytecode-"));
  mkdirSync(join(root, "lib", "engine"), { recursive: true });
  saveShared(root, `"hello from " + name`);
  saveSource(join(root, "lib", "cli.ts"), `import { greeting } from "./shared.ts";\nexport function main(): string { return greeting("cli"); }\n`);
  for (const daemon of ["sc", "spu"]) {
    saveSource(join(root, "lib", "engine", `${daemon}.ts`), `import { greeting } from "../shared.ts";\nconsole.log(greeting("${daemon}"));\n`);
  }
  return { root, cacheDir: join(root, "node_modules", ".cache", "cluster-bytecode"), remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Saves lib/shared.ts, whose greeting every entry prints, as returning `expression`. */
function saveShared(root: string, expression: string, secondsAgo?: number): void {
  saveSource(join(root, "lib", "shared.ts"), `export const greeting = (name: string): string => ${expression};\n`, secondsAgo);
}

function builds(cacheDir: string): string[] {
  return readdirSync(cacheDir).filter((name) => name !== "current.json");
}

describe("ensureBytecode()", () => {
  test("ensureBytecode() builds every entry with its bytecode, and the build runs", async () => {
    const project = tempProject();
    try {
      expect(compiledEntries(project)).toBeUndefined();
      expect(await ensureBytecode(project)).toBe(true);
      const compiled = compiledEntries(project)!;
      for (const entry of BYTECODE_ENTRIES) {
        expect(compiled[entry].startsWith(`${project.cacheDir}/`)).toBe(true);
        expect(statSync(`${compiled[entry]}.jsc`).size).toBeGreaterThan(0);
      }
      const stamp = JSON.parse(readFileSync(join(project.cacheDir, "current.json"), "utf8")) as BytecodeStamp;
      expect(stamp.inputs.map(([path]) => path).sort()).toEqual(["lib/cli.ts", "lib/engine/sc.ts", "lib/engine/spu.ts", "lib/shared.ts"]);
      const run = Bun.spawnSync([process.execPath, compiled["lib/engine/spu.ts"]], { env: process.env });
      expect(run.stdout.toString()).toBe("hello from spu\n");
      expect((require(compiled["lib/cli.ts"]) as { main: () => string }).main()).toBe("hello from cli");
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() leaves a fresh cache as it is", async () => {
    const project = tempProject();
    try {
      await ensureBytecode(project);
      const before = builds(project.cacheDir);
      expect(await ensureBytecode(project)).toBe(true);
      expect(builds(project.cacheDir)).toEqual(before);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() builds anew once a source changed, and the new build runs the new source", async () => {
    const project = tempProject();
    try {
      await ensureBytecode(project);
      const first = compiledEntries(project)!["lib/engine/sc.ts"];
      saveShared(project.root, `"bye from " + name`);
      expect(compiledEntries(project)).toBeUndefined();
      expect(await ensureBytecode(project)).toBe(true);
      const second = compiledEntries(project)!["lib/engine/sc.ts"];
      expect(second).not.toBe(first);
      expect(Bun.spawnSync([process.execPath, second], { env: process.env }).stdout.toString()).toBe("bye from sc\n");
      // The build before is kept: a command that read current.json a moment earlier may be starting a daemon from it.
      expect(existsSync(first)).toBe(true);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() keeps the current build and three before it", async () => {
    const project = tempProject();
    try {
      for (let edit = 0; edit < 6; edit++) {
        saveShared(project.root, `"${edit} " + name`);
        expect(await ensureBytecode(project)).toBe(true);
      }
      expect(builds(project.cacheDir)).toHaveLength(4);
      expect(existsSync(compiledEntries(project)!["lib/cli.ts"])).toBe(true);
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
      expect(compiledEntries(project)).toBeUndefined();
      expect(readFileSync(join(project.cacheDir, "current.json"), "utf8")).toBe(stampBefore);
      expect(builds(project.cacheDir)).toEqual(buildsBefore);
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() stamps no build with a source saved as it began, and stamps the next build", async () => {
    const project = tempProject();
    try {
      saveShared(project.root, `"now " + name`, 0);
      expect(await ensureBytecode(project)).toBe(false);
      expect(existsSync(project.cacheDir) ? builds(project.cacheDir) : []).toEqual([]);
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
      expect(compiledEntries({ root: project.root, cacheDir })).toBeUndefined();
    } finally {
      project.remove();
    }
  });

  test("ensureBytecode() and compiledEntries() use nothing with CLUSTER_BYTECODE=off", async () => {
    const project = tempProject();
    try {
      await ensureBytecode(project);
      const off = { ...project, env: { CLUSTER_BYTECODE: "off" } };
      expect(compiledEntries(off)).toBeUndefined();
      saveShared(project.root, "name");
      expect(await ensureBytecode(off)).toBe(false);
      expect(builds(project.cacheDir)).toHaveLength(1);
    } finally {
      project.remove();
    }
  });
});

describe("the CLI and its daemons from the bytecode cache", () => {
  const scScript = (home: string) => readState(clusterPaths(home, "local")).processes.find((entry) => entry.role === "sc")!.argv[1];

  test("cluster create starts the daemons from the project's fresh bytecode cache", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"]);
    expect(created.exitCode).toBe(0);
    const compiled = compiledEntries();
    expect(compiled).toBeDefined();
    expect(scScript(home)).toBe(compiled!["lib/engine/sc.ts"]);
  });

  test("cluster create with CLUSTER_BYTECODE=off starts the daemons from their sources", async () => {
    const home = tempHome();
    const created = await cli(home, ["create", "--port-base", String(nextPortBase()), "--json"], { env: { CLUSTER_BYTECODE: "off" } });
    expect(created.exitCode).toBe(0);
    expect(scScript(home)).toBe(SOURCE_SCRIPTS.sc);
  });
});
