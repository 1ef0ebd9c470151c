/**
 * A compiled cache of the CLI (a bundle with JavaScriptCore bytecode) and the daemons (one
 * executable), built with the project (`npm ci` runs `prepare`, `bun run build` runs `build`:
 * both run this file) and used by a command only while it matches the sources. A command never
 * builds it and never waits for a build: a stale or broken cache means the sources run, and
 * that command starts one detached rebuild (at a low priority) for the commands after it.
 *
 * NOTE: a Bun process compiles every module it loads on every start, and a `create` starts
 * five processes on a couple of cores. Measured on this project's machine, in CPU per process
 * (a bare `bun empty.js` being 7.5 to 8 ms):
 *   - the CLI, bundled as CommonJS with JavaScriptCore bytecode beside it (Bun loads that
 *     instead of compiling): `status` from 28 to 19 ms;
 *   - the daemons, compiled into a standalone executable with bytecode: an SPU from 19 ms as
 *     sources and 16 as such a bundle to 10; Bun's own start and node:fs cost less in an
 *     executable. It holds a copy of Bun (about 110 MB), and bench/startup.ts measured it worth
 *     that: as bundles run by `bun`, `create --spus 3` took 84.5 ms against 66.1 (README).
 * The CLI stays a bundle run by `bun cluster.ts`: an executable would be a second process.
 * A bundle without bytecode gains nothing: the cost is compiling, not finding files.
 *
 * Layout, under node_modules/.cache/cluster-bytecode/ (npm's place for caches; the CLI
 * bundle's `require("yargs")` finds the project's packages from there):
 *
 *   current.json                    the build to use and what it was made from (replaced by rename)
 *   build.lock                      held while a build is made (flock), waited for at most BUILD_LOCK_TIMEOUT_MS
 *   rebuild                         made by the command that starts a detached rebuild; see startRebuild
 *   <build>/lib/cli.js{,.jsc,.map}  the CLI, `require`d by cluster.ts
 *   <build>/cluster-daemon          the daemons (`cluster-daemon sc|spu ...`, lib/engine/daemon.ts),
 *                                   reading no .env or bunfig.toml, as the sources are run (lib/cluster/launch.ts)
 *
 * A build is used only when current.json names this Bun, this project directory, these entries
 * and every input file with the size and modification time it had when built, and every output
 * of it is there. There is one build on disk: a new one is made beside it, current.json is
 * renamed over to name it, and then the old one is removed. A stack trace from the cache names
 * the source file and line: the CLI's source map names absolute paths, the one embedded in the
 * executable paths relative to the project (a build runs in the project's directory).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import type { HeldLock } from "../base/lock.ts";
import {
  BUILD_NAME,
  CLI_ENTRY,
  CLI_OUTPUT,
  DAEMON_ENTRY,
  DAEMON_OUTPUT,
  ENTRIES,
  resolveOptions,
  runMode,
  STAMP_FORMAT,
  statFile,
  type BytecodeCacheOptions,
  type BytecodeStamp,
} from "./run-mode.ts";

/** This file, relative to the project. */
const BUILD_SCRIPT = "lib/startup/bytecode-cache.ts";
/** A build takes 1 to 3 s; another build, or `npm ci` while one runs, waits this long for it. */
const BUILD_LOCK_TIMEOUT_MS = 60_000;
/**
 * A detached rebuild started less than this long ago is still running or has failed: no
 * command starts another before then, so a source that does not compile costs one failed build
 * a minute, not one per command.
 */
const REBUILD_LEASE_MS = 60_000;
/** Space a build must leave free on its disk, which may hold the clusters' data too. */
const MIN_FREE_AFTER_BUILD = 1024 ** 3;
let buildsMade = 0;
/** How far before a build's start a source saved then may have been saved during it. */
const MTIME_MARGIN_MS = 20;

/**
 * Starts one detached, low-priority rebuild of a stale or broken cache, unless one was started
 * within REBUILD_LEASE_MS; returns whether it started one. It never waits for the build.
 *
 * NOTE: the `rebuild` file is the lease: made with O_EXCL, so of two commands at once one
 * starts the rebuild; one older than the lease (its rebuild failed, or was killed) is taken
 * over by renaming it away first. Should two commands still start one each, build.lock makes
 * them build one after the other, and the second finds the cache fresh.
 */
export function startRebuild(options: BytecodeCacheOptions = {}): boolean {
  const { root, cacheDir } = resolveOptions(options);
  const lease = `${cacheDir}/rebuild`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    if (!claimLease(lease)) return false;
    const child = Bun.spawn([process.execPath, import.meta.path, "--background", "--root", root, "--cache-dir", cacheDir], {
      cwd: root,
      detached: true,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    child.unref();
    return true;
  } catch {
    // A cache directory that cannot be written cannot be rebuilt either: the sources run.
    return false;
  }
}

function claimLease(lease: string): boolean {
  try {
    closeSync(openSync(lease, "wx", 0o600));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") return false;
  }
  if (Date.now() - (statFile(lease)?.mtimeMs ?? Date.now()) < REBUILD_LEASE_MS) return false;
  const taken = `${lease}.${process.pid}`;
  try {
    renameSync(lease, taken);
  } catch {
    return false;
  }
  rmSync(taken, { force: true });
  try {
    closeSync(openSync(lease, "wx", 0o600));
    return true;
  } catch {
    return false;
  }
}

/** What a build did: made one, found the cache fresh, or could not make one (and why). */
export type BuildOutcome = { outcome: "built"; build: string; ms: number } | { outcome: "fresh"; build: string } | { outcome: "failed"; reason: string };

/**
 * Builds the cache unless it is fresh and whole (CLUSTER_BYTECODE is not read: a build is
 * harmless). One build at a time: another waits for it up to BUILD_LOCK_TIMEOUT_MS. A build that
 * cannot be made leaves the cache as it was.
 */
export async function buildBytecode(options: BytecodeCacheOptions = {}): Promise<BuildOutcome> {
  const { root, cacheDir } = resolveOptions(options);
  const check = { root, cacheDir, env: {} };
  const [{ acquireLock }, { ClusterError }, { pollUntil }, { writeFileAtomic }] = await Promise.all([
    import("../base/lock.ts"),
    import("../base/errors.ts"),
    import("../base/poll-until.ts"),
    import("../base/files.ts"),
  ]);
  let lock: HeldLock | undefined;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const lockPath = `${cacheDir}/build.lock`;
    lock = await pollUntil(
      () => {
        try {
          return acquireLock(lockPath, { verb: "build", subject: `the bytecode cache '${cacheDir}'` });
        } catch (error) {
          if (error instanceof ClusterError && error.code === "LOCKED") return undefined;
          throw error;
        }
      },
      { timeoutMs: BUILD_LOCK_TIMEOUT_MS, firstPauseMs: 10, maxPauseMs: 200 },
    );
  } catch (error) {
    return { outcome: "failed", reason: `'${cacheDir}' cannot be written: ${(error as Error).message}` };
  }
  if (lock === undefined) return { outcome: "failed", reason: `another build held '${cacheDir}/build.lock' for ${BUILD_LOCK_TIMEOUT_MS / 1000} s` };
  try {
    // Another build may have made it while this one waited for the lock.
    const before = runMode(check);
    if (before.mode === "compiled") return { outcome: "fresh", build: before.build };
    if (!hasRoomForBuild(cacheDir)) return { outcome: "failed", reason: `a build would leave less than ${MIN_FREE_AFTER_BUILD / 1024 ** 3} GiB free on the disk of '${cacheDir}'` };
    const startedAt = Date.now();
    const made = await build(root, cacheDir);
    if (typeof made === "string") return { outcome: "failed", reason: made };
    writeFileAtomic(`${cacheDir}/current.json`, `${JSON.stringify(made)}\n`);
    removeBuildsBut(cacheDir, made.build);
    return { outcome: "built", build: made.build, ms: Date.now() - startedAt };
  } catch (error) {
    return { outcome: "failed", reason: (error as Error).message };
  } finally {
    lock.release();
  }
}

/** Builds both outputs into a new build directory: its stamp, or why not (and nothing left behind). */
async function build(root: string, cacheDir: string): Promise<BytecodeStamp | string> {
  const startedAt = Date.now();
  const name = `${startedAt.toString(36)}-${process.pid}-${buildsMade++}`;
  const outdir = `${cacheDir}/${name}`;
  try {
    const [cli, daemon] = await Promise.all([
      Bun.build({
        entrypoints: [`${root}/${CLI_ENTRY}`],
        root,
        outdir,
        target: "bun",
        // Bytecode without `compile` is CommonJS only; packages stay where npm put them.
        format: "cjs",
        bytecode: true,
        packages: "external",
        sourcemap: "linked",
        metafile: true,
        throw: false,
      }),
      Bun.build({
        entrypoints: [`${root}/${DAEMON_ENTRY}`],
        target: "bun",
        format: "esm",
        bytecode: true,
        // NOTE: each role's code in its own chunk, loaded only by that role: as one module, every
        // daemon loaded both roles' code (and the yaml package's) before running either, 1.8 ms of
        // CPU per daemon start measured here, four times in a `create`.
        splitting: true,
        // Embedded in the executable, naming each source relative to the working directory.
        sourcemap: "linked",
        // As lib/cluster/launch.ts runs the sources: no .env or bunfig.toml of the directory it starts in.
        compile: { outfile: `${outdir}/${DAEMON_OUTPUT}`, autoloadDotenv: false, autoloadBunfig: false },
        metafile: true,
        throw: false,
      }),
    ]);
    const failed = [cli, daemon].find((result) => !result.success || result.metafile === undefined);
    if (failed !== undefined) {
      removeBuild(cacheDir, name);
      return `Bun.build failed: ${failed.logs.map(String).join("; ") || "no message"}`;
    }
    if (!runs(`${outdir}/${DAEMON_OUTPUT}`)) {
      removeBuild(cacheDir, name);
      return `'${outdir}/${DAEMON_OUTPUT}' does not run here (a noexec mount?)`;
    }
    // The executable holds its chunks' maps; the copies written beside it are read by nothing.
    // (The CLI's map is in lib/ below.)
    for (const name of readdirSync(outdir)) if (name.endsWith(".map")) rmSync(`${outdir}/${name}`, { force: true });
    const { relative, resolve } = await import("node:path");
    absoluteSources(`${outdir}/${CLI_OUTPUT}.map`, outdir, resolve);
    // The metafile names inputs relative to the working directory.
    const bundled = [...Object.keys(cli.metafile!.inputs), ...Object.keys(daemon.metafile!.inputs)].map((input) => relative(root, resolve(input)));
    // Neither is a module of the builds, but tsconfig.json's settings shape how Bun transpiles
    // every one, and this file's how each build is made.
    const settings = ["tsconfig.json", BUILD_SCRIPT].filter((path) => statFile(`${root}/${path}`) !== undefined);
    const inputs = [...new Set([...bundled, ...settings])].map((path): [string, number, number] => {
      const { size, mtimeMs } = statSync(`${root}/${path}`);
      return [path, size, mtimeMs];
    });
    // A file saved while it was being bundled may be in the build as it was before: stamping the
    // build with its new time would run old code as new. (The kernel's clock for file times
    // lags by up to a tick, hence the margin.)
    const saved = inputs.find(([, , mtimeMs]) => mtimeMs >= startedAt - MTIME_MARGIN_MS);
    if (saved !== undefined) {
      removeBuild(cacheDir, name);
      return `'${saved[0]}' was saved while it was being built`;
    }
    return { format: STAMP_FORMAT, bun: Bun.revision, root, entries: ENTRIES, build: name, inputs };
  } catch (error) {
    removeBuild(cacheDir, name);
    throw error;
  }
}

/**
 * Whether the daemons' executable runs here (a cache on a noexec mount would not): asked for no
 * role, it says so and exits 2 before loading either daemon.
 */
function runs(executable: string): boolean {
  try {
    return Bun.spawnSync([executable], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exitCode === 2;
  } catch {
    return false;
  }
}

/**
 * Rewrites a source map's `sources` as absolute paths. NOTE: Bun 1.4.5 writes them relative to
 * the build's outdir, but resolves them at run time from the map's own directory, so a trace
 * would name `<build>/lib/x.ts`; absolute paths name the source wherever the map is.
 */
function absoluteSources(mapPath: string, outdir: string, resolve: (...paths: string[]) => string): void {
  const map = JSON.parse(readFileSync(mapPath, "utf8")) as { sources: string[] };
  map.sources = map.sources.map((source) => resolve(outdir, source));
  writeFileSync(mapPath, JSON.stringify(map));
}

/** Whether a build of about `buildBytes` leaves MIN_FREE_AFTER_BUILD of `freeBytes` free. */
export function leavesRoom(freeBytes: number, buildBytes: number): boolean {
  return freeBytes - buildBytes >= MIN_FREE_AFTER_BUILD;
}

/** Whether the disk holding `cacheDir` has room for a build, whose executable is about the size of this Bun. */
function hasRoomForBuild(cacheDir: string): boolean {
  const { bavail, bsize } = statfsSync(cacheDir);
  return leavesRoom(Number(bavail) * Number(bsize), statSync(process.execPath).size);
}

/** Removes every build but `current`: the one before it, and any a killed build left half made. */
function removeBuildsBut(cacheDir: string, current: string): void {
  for (const name of readdirSync(cacheDir)) {
    if (BUILD_NAME.test(name) && name !== current) removeBuild(cacheDir, name);
  }
}

/** Removes a build's directory; one that cannot be removed (or was never written) is left. */
function removeBuild(cacheDir: string, build: string): void {
  try {
    rmSync(`${cacheDir}/${build}`, { recursive: true, force: true });
  } catch {
    // A cache directory that cannot be written holds nothing of this build.
  }
}

/**
 * `bun lib/startup/bytecode-cache.ts [--optional] [--background] [--root DIR] [--cache-dir DIR]`: builds
 * the cache and prints what it did. `--optional` (npm's `prepare`) exits 0 when no build can be
 * made, since the sources run without one; `--background` is a command's detached rebuild: low
 * priority, silent, and it clears its lease when done (or leaves the failure in it).
 */
async function runBuildScript(args: string[]): Promise<number> {
  const [{ parseArgs }, { setPriority }] = await Promise.all([import("node:util"), import("node:os")]);
  const { values } = parseArgs({
    args,
    options: { optional: { type: "boolean" }, background: { type: "boolean" }, root: { type: "string" }, "cache-dir": { type: "string" } },
    strict: true,
  });
  const options = { root: values.root, cacheDir: values["cache-dir"] };
  // The executable's source map names each source relative to the working directory.
  process.chdir(resolveOptions(options).root);
  if (!values.background) return report(await buildBytecode(options), values.optional ?? false);
  setPriority(19);
  const outcome = await buildBytecode(options);
  const lease = `${resolveOptions(options).cacheDir}/rebuild`;
  try {
    if (outcome.outcome === "failed") writeFileSync(lease, `${outcome.reason}\n`);
    else rmSync(lease, { force: true });
  } catch {
    // The lease ends by its age all the same.
  }
  return 0;
}

function report(outcome: BuildOutcome, optional: boolean): number {
  if (outcome.outcome === "built") console.log(`bytecode cache built in ${(outcome.ms / 1000).toFixed(1)} s (build ${outcome.build})`);
  else if (outcome.outcome === "fresh") console.log(`bytecode cache is fresh (build ${outcome.build})`);
  else console.error(`${optional ? "warning" : "error"}: no bytecode cache built: ${outcome.reason}; the CLI and the daemons run from their sources`);
  return outcome.outcome === "failed" && !optional ? 1 : 0;
}

// No top-level await: this file is bundled into the CLI, as CommonJS.
if (import.meta.main) {
  void runBuildScript(process.argv.slice(2)).then((exitCode) => {
    process.exitCode = exitCode;
  });
}
