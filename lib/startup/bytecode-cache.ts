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

/** What the cache compiles: the CLI (run by `cluster.ts`) and the daemons' one entry. */
export const CLI_ENTRY = "lib/cli.ts";
export const DAEMON_ENTRY = "lib/engine/daemon.ts";
const ENTRIES = [CLI_ENTRY, DAEMON_ENTRY];
const CLI_OUTPUT = "lib/cli.js";
const DAEMON_OUTPUT = "cluster-daemon";

/** The files a fresh build runs. */
export interface CompiledFiles {
  /** The CLI's bundle, to `require` (its bytecode and source map beside it). */
  cli: string;
  /** The daemons' executable. */
  daemon: string;
}

/** How this process runs the CLI and starts daemons, and why. */
export type RunMode =
  | { mode: "compiled"; reason: string; build: string; files: CompiledFiles }
  | {
      mode: "sources";
      reason: string;
      /** A build would make the cache usable (false with CLUSTER_BYTECODE=off). */
      rebuild: boolean;
      /** The cache is broken, not merely stale or absent: worth a warning. */
      broken?: boolean;
    };

/** Changed whenever what a build holds changes shape, so an older cache is never used. */
const STAMP_FORMAT = 3;
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
/** A build's directory name: when it was made (base 36), by which process, and its number in that process. */
const BUILD_NAME = /^([0-9a-z]+)-[0-9]+-[0-9]+$/;
let buildsMade = 0;
/** How far before a build's start a source saved then may have been saved during it. */
const MTIME_MARGIN_MS = 20;

/** The project's directory (where cluster.ts is, two above this file), without node:path, whose loading costs every process 2 ms. */
const PROJECT_ROOT = import.meta.dir.slice(0, import.meta.dir.lastIndexOf("/", import.meta.dir.lastIndexOf("/") - 1));

export interface BytecodeCacheOptions {
  /** The project whose entries are built (default: this one). */
  root?: string;
  /** Where builds go (default: `<root>/node_modules/.cache/cluster-bytecode`). */
  cacheDir?: string;
  /** The environment read for CLUSTER_BYTECODE (default: process.env). */
  env?: Record<string, string | undefined>;
}

/** current.json: the build to use and what it was made from. */
export interface BytecodeStamp {
  format: number;
  /** Bun.revision of the Bun that built it: bytecode is only good for the engine that wrote it. */
  bun: string;
  /** The project directory: the bundles and their source maps hold its absolute paths. */
  root: string;
  entries: string[];
  /** The build's directory name under the cache directory. */
  build: string;
  /** Every file bundled, relative to root, with its size and modification time then. */
  inputs: [path: string, size: number, mtimeMs: number][];
}

/** A file's size and modification time, or undefined when it is gone. */
export type StatOf = (path: string) => { size: number; mtimeMs: number } | undefined;

/**
 * Why `stamp` cannot be used, or undefined when it can: it must be of this format, from this
 * Bun, for this project and these entries, and each input must have its recorded size and time.
 */
export function staleReason(stamp: unknown, expected: { bun: string; root: string }, statOf: StatOf): string | undefined {
  if (!isStamp(stamp)) return "its current.json is not a build's";
  if (stamp.format !== STAMP_FORMAT) return `it is of format ${stamp.format}, not ${STAMP_FORMAT}`;
  if (stamp.bun !== expected.bun) return `it was built by Bun ${stamp.bun}, not ${expected.bun}`;
  if (stamp.root !== expected.root) return `it was built for '${stamp.root}', not '${expected.root}'`;
  if (stamp.entries.join(" ") !== ENTRIES.join(" ")) return `it was built for the entries ${stamp.entries.join(", ")}`;
  for (const [path, size, mtimeMs] of stamp.inputs) {
    const now = statOf(`${expected.root}/${path}`);
    if (now === undefined) return `'${path}' is gone`;
    if (now.size !== size || now.mtimeMs !== mtimeMs) return `'${path}' changed`;
  }
  return undefined;
}

/**
 * How a command runs now: from the cache when it is fresh and whole, else from the sources, with
 * the reason either way. Reads current.json and stats every input and output (about 100 files).
 */
export function runMode(options: BytecodeCacheOptions = {}): RunMode {
  const { root, cacheDir, env } = resolveOptions(options);
  if (env.CLUSTER_BYTECODE === "off") return { mode: "sources", reason: "CLUSTER_BYTECODE=off", rebuild: false };
  const stamp = readStamp(cacheDir);
  if (stamp === undefined) return { mode: "sources", reason: "no bytecode cache is built ('bun run build' builds it)", rebuild: true };
  const stale = staleReason(stamp, { bun: Bun.revision, root }, statFile);
  if (stale !== undefined) return { mode: "sources", reason: `the bytecode cache is stale: ${stale}${lastRebuildFailure(cacheDir)}`, rebuild: true };
  const { build } = stamp as BytecodeStamp;
  const files = { cli: `${cacheDir}/${build}/${CLI_OUTPUT}`, daemon: `${cacheDir}/${build}/${DAEMON_OUTPUT}` };
  const missing = [files.cli, `${files.cli}.jsc`, `${files.cli}.map`, files.daemon].find((output) => statFile(output) === undefined);
  if (missing !== undefined) return { mode: "sources", reason: `the bytecode cache's '${missing}' is missing`, rebuild: true, broken: true };
  return { mode: "compiled", reason: "the bytecode cache matches every source", build, files };
}

let recordedRunMode: RunMode | undefined;

/** Records how this process runs (cluster.ts decides it once, before the CLI loads). */
export function recordRunMode(mode: RunMode): void {
  recordedRunMode = mode;
}

/** How this process runs: as recorded, or as `runMode()` finds it now (a caller in-process, a test). */
export function currentRunMode(): RunMode {
  return recordedRunMode ?? runMode();
}

/** Whether a daemon recorded with `argv` runs from the bytecode cache of this project. */
export function runsFromCache(argv: string[], options: BytecodeCacheOptions = {}): boolean {
  const { cacheDir } = resolveOptions(options);
  return argv.some((arg) => arg.startsWith(`${cacheDir}/`));
}

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

/** `; its last rebuild failed: ...` when the lease records a failure, else nothing. */
function lastRebuildFailure(cacheDir: string): string {
  try {
    const failure = readFileSync(`${cacheDir}/rebuild`, "utf8").trim();
    return failure === "" ? "" : `; its last rebuild failed: ${failure}`;
  } catch {
    return "";
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
    // The executable holds its map; the copy written beside it is read by nothing.
    rmSync(`${outdir}/${DAEMON_OUTPUT}.map`, { force: true });
    const { relative, resolve } = await import("node:path");
    absoluteSources(`${outdir}/${CLI_OUTPUT}.map`, outdir, resolve);
    // The metafile names inputs relative to the working directory.
    const bundled = [...Object.keys(cli.metafile!.inputs), ...Object.keys(daemon.metafile!.inputs)].map((input) => relative(root, resolve(input)));
    // tsconfig.json is no module, but its settings shape how Bun transpiles every one.
    const settings = statFile(`${root}/tsconfig.json`) ? ["tsconfig.json"] : [];
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

function resolveOptions(options: BytecodeCacheOptions): Required<BytecodeCacheOptions> {
  const root = options.root ?? PROJECT_ROOT;
  return { root, cacheDir: options.cacheDir ?? `${root}/node_modules/.cache/cluster-bytecode`, env: options.env ?? process.env };
}

function readStamp(cacheDir: string): unknown {
  let text: string;
  try {
    text = readFileSync(`${cacheDir}/current.json`, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function statFile(path: string): { size: number; mtimeMs: number } | undefined {
  try {
    const stats = statSync(path);
    return { size: stats.size, mtimeMs: stats.mtimeMs };
  } catch {
    return undefined;
  }
}

function isStamp(value: unknown): value is BytecodeStamp {
  const stamp = value as BytecodeStamp | undefined;
  return (
    typeof stamp === "object" &&
    stamp !== null &&
    typeof stamp.build === "string" &&
    BUILD_NAME.test(stamp.build) &&
    Array.isArray(stamp.entries) &&
    Array.isArray(stamp.inputs) &&
    stamp.inputs.every((input) => Array.isArray(input) && typeof input[0] === "string" && typeof input[1] === "number" && typeof input[2] === "number")
  );
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
