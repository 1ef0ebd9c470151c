/**
 * A compiled cache of the CLI and the daemons, kept the way Python keeps `__pycache__`: built
 * from the sources when it is missing or stale, checked against them on every run, and never
 * used once any of its inputs has changed.
 *
 * NOTE: a Bun process compiles every module it loads on every start, and a `create` starts
 * five processes on a couple of cores. Measured on this project's machine, in CPU per process
 * (a bare `bun empty.js` being 7.5 to 8 ms):
 *   - the CLI, bundled as CommonJS with JavaScriptCore bytecode beside it (Bun loads that
 *     instead of compiling): `status` from 28 to 19 ms;
 *   - the daemons, compiled into a standalone executable with bytecode: an SPU from 19 ms as
 *     sources and 16 as such a bundle to 10; Bun's own start and node:fs cost less in an
 *     executable (empty: 6.2 against 7.3 ms; with node:fs: 8.9 against 13.3).
 * The CLI stays a bundle run by `bun cluster.ts`: an executable would be a second process.
 * A bundle without bytecode gains nothing: the cost is compiling, not finding files.
 *
 * Layout, under node_modules/.cache/cluster-bytecode/ (npm's place for caches; the CLI
 * bundle's `require("yargs")` finds the project's packages from there):
 *
 *   current.json                     the current build and what it was made from
 *   build.lock                       held while a build is made, so one is made at a time
 *   <build>/lib/cli.js, cli.js.jsc   the CLI
 *   <build>/cluster-daemon           the daemons (`cluster-daemon sc|spu ...`, lib/engine/daemon.ts)
 *
 * A build is used only when current.json names this Bun, this project directory, these entries
 * and every input file with the size and modification time it had when built. Otherwise
 * `ensureBytecode` builds a new one (one to two seconds, once after each change); what cannot be
 * built (no node_modules, a read-only checkout, a source that does not compile, a disk with
 * less than a gigabyte to spare after it) runs from the sources. `CLUSTER_BYTECODE=off` always
 * runs the sources, whose stack traces name the sources' lines.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from "node:fs";
import type { HeldLock } from "../base/lock.ts";

/** What the cache compiles: the CLI (run by `cluster.ts`) and the daemons' one entry. */
export const CLI_ENTRY = "lib/cli.ts";
export const DAEMON_ENTRY = "lib/engine/daemon.ts";
const ENTRIES = [CLI_ENTRY, DAEMON_ENTRY];
const CLI_OUTPUT = "lib/cli.js";
const DAEMON_OUTPUT = "cluster-daemon";

/** The files a fresh build runs. */
export interface CompiledFiles {
  /** The CLI's bundle, to `require`. */
  cli: string;
  /** The daemons' executable. */
  daemon: string;
}

/** Changed whenever what a build holds changes shape, so an older cache is never used. */
const STAMP_FORMAT = 2;
/**
 * Builds kept besides the current one: a command that read current.json just before a rebuild
 * may still be starting its daemons from the one before. (Each holds a ~110 MB executable.)
 */
const KEPT_BUILDS = 1;
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
  /** Bun.revision of the Bun that built it: bytecode is only good for the engine that wrote it, and the executable holds that Bun. */
  bun: string;
  /** The project directory: the bundles hold its absolute paths (import.meta.url is inlined). */
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
  if (!isStamp(stamp)) return "no valid current.json";
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

/** The compiled files to run when the cache is fresh; undefined means: run the sources. */
export function compiledFiles(options: BytecodeCacheOptions = {}): CompiledFiles | undefined {
  const { root, cacheDir, env } = resolveOptions(options);
  if (env.CLUSTER_BYTECODE === "off") return undefined;
  const stamp = readStamp(cacheDir);
  if (staleReason(stamp, { bun: Bun.revision, root }, statFile) !== undefined) return undefined;
  const build = `${cacheDir}/${(stamp as BytecodeStamp).build}`;
  return { cli: `${build}/${CLI_OUTPUT}`, daemon: `${build}/${DAEMON_OUTPUT}` };
}

/**
 * Builds the cache unless it is fresh or turned off; resolves to whether a fresh build is there
 * now. A build that cannot be made leaves the cache as it was: the sources run instead.
 */
export async function ensureBytecode(options: BytecodeCacheOptions = {}): Promise<boolean> {
  const { root, cacheDir, env } = resolveOptions(options);
  if (env.CLUSTER_BYTECODE === "off") return false;
  if (compiledFiles(options) !== undefined) return true;
  // Loaded only here: a run from a fresh cache needs neither before its verb.
  const [{ acquireLock }, { writeFileAtomic }] = await Promise.all([import("../base/lock.ts"), import("../base/files.ts")]);
  let lock: HeldLock;
  try {
    mkdirSync(cacheDir, { recursive: true });
    lock = acquireLock(`${cacheDir}/build.lock`, { verb: "build", subject: `the bytecode cache '${cacheDir}'`, wait: true });
  } catch {
    // No node_modules to build in, or one that cannot be written: the sources run.
    return false;
  }
  try {
    // Another command may have built it while this one waited for the lock.
    if (compiledFiles(options) !== undefined) return true;
    if (!hasRoomForBuild(cacheDir)) return false;
    const stamp = await build(root, cacheDir);
    if (stamp === undefined) return false;
    writeFileAtomic(`${cacheDir}/current.json`, `${JSON.stringify(stamp)}\n`);
    removeOldBuilds(cacheDir, stamp.build);
    return true;
  } catch {
    return false;
  } finally {
    lock.release();
  }
}

/** Builds both outputs into a new build directory; its stamp, or undefined (and nothing left behind) when it failed. */
async function build(root: string, cacheDir: string): Promise<BytecodeStamp | undefined> {
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
        metafile: true,
        throw: false,
      }),
      Bun.build({
        entrypoints: [`${root}/${DAEMON_ENTRY}`],
        target: "bun",
        format: "esm",
        bytecode: true,
        // A daemon reads no .env or bunfig.toml of the directory it was started in.
        compile: { outfile: `${outdir}/${DAEMON_OUTPUT}`, autoloadDotenv: false, autoloadBunfig: false },
        metafile: true,
        throw: false,
      }),
    ]);
    if (!cli.success || !daemon.success || cli.metafile === undefined || daemon.metafile === undefined || !runs(`${outdir}/${DAEMON_OUTPUT}`)) {
      removeBuild(cacheDir, name);
      return undefined;
    }
    // The metafile names inputs relative to the working directory.
    const { relative, resolve } = await import("node:path");
    const bundled = [...Object.keys(cli.metafile.inputs), ...Object.keys(daemon.metafile.inputs)].map((input) => relative(root, resolve(input)));
    // tsconfig.json is no module, but its settings shape how Bun transpiles every one.
    const settings = statFile(`${root}/tsconfig.json`) ? ["tsconfig.json"] : [];
    const inputs = [...new Set([...bundled, ...settings])].map((path): [string, number, number] => {
      const { size, mtimeMs } = statSync(`${root}/${path}`);
      return [path, size, mtimeMs];
    });
    // A file saved while it was being bundled may be in the build as it was before: stamping the
    // build with its new time would run old code as new. (The kernel's clock for file times
    // lags by up to a tick, hence the margin.)
    if (inputs.some(([, , mtimeMs]) => mtimeMs >= startedAt - MTIME_MARGIN_MS)) {
      removeBuild(cacheDir, name);
      return undefined;
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
  try {
    return JSON.parse(readFileSync(`${cacheDir}/current.json`, "utf8"));
  } catch {
    return undefined;
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

/** Removes the builds older than the newest KEPT_BUILDS, never `current`. */
function removeOldBuilds(cacheDir: string, current: string): void {
  const builds = readdirSync(cacheDir)
    .filter((name) => BUILD_NAME.test(name) && name !== current)
    .sort((a, b) => parseInt(BUILD_NAME.exec(b)![1]!, 36) - parseInt(BUILD_NAME.exec(a)![1]!, 36));
  for (const old of builds.slice(KEPT_BUILDS)) removeBuild(cacheDir, old);
}

/** Removes a build's directory; one that cannot be removed (or was never written) is left. */
function removeBuild(cacheDir: string, build: string): void {
  try {
    rmSync(`${cacheDir}/${build}`, { recursive: true, force: true });
  } catch {
    // A cache directory that cannot be written holds nothing of this build.
  }
}
