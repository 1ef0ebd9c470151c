/**
 * A bytecode cache of the CLI and the two daemons, kept the way Python keeps `__pycache__`:
 * built from the sources when it is missing or stale, checked against them on every run, and
 * never used once any of its inputs has changed.
 *
 * NOTE: a Bun process compiles every module it loads on every start, and a `create` starts
 * five processes on a couple of cores. Bun's bundler can write JavaScriptCore bytecode beside
 * a CommonJS bundle, which Bun then loads instead of compiling the code. Measured on this
 * project's machine (CPU per process, a bare Bun start being 7.5 ms): an SC's start fell from
 * 23 to 16 ms, an SPU's from 19 to 16, `status` from 28 to 19. A bundle without bytecode gains
 * nothing: the cost is compiling, not finding files.
 *
 * Layout, under node_modules/.cache/cluster-bytecode/ (npm's place for caches; the bundles'
 * `require("yargs")` finds the project's packages from there):
 *
 *   current.json                       the current build and what it was made from
 *   <build>/lib/cli.js, lib/engine/sc.js, lib/engine/spu.js, each with its .jsc beside it
 *
 * A build is used only when current.json names this Bun, this project directory, these entries
 * and every input file with the size and modification time it had when built. Otherwise
 * `ensureBytecode` builds a new one (a few tenths of a second, once after each change); what
 * cannot be built (no node_modules, a read-only checkout, a source that does not compile) runs
 * from the sources. `CLUSTER_BYTECODE=off` always runs the sources, whose stack traces name
 * the sources' lines.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";

/** The files that run as processes: the CLI (through `cluster.ts`) and the daemons. */
export const BYTECODE_ENTRIES = ["lib/cli.ts", "lib/engine/sc.ts", "lib/engine/spu.ts"] as const;
export type BytecodeEntry = (typeof BYTECODE_ENTRIES)[number];

/** Changed whenever what a build holds changes shape, so an older cache is never used. */
const STAMP_FORMAT = 1;
/** Builds kept besides the current one: a command that read current.json just before a rebuild may still be starting its daemons from the one before. */
const KEPT_BUILDS = 3;
/** A build's directory name: when it was made (base 36), by which process, and its number in that process. */
const BUILD_NAME = /^([0-9a-z]+)-[0-9]+-[0-9]+$/;
let buildsMade = 0;
/** How far before a build's start a source saved then may have been saved during it. */
const MTIME_MARGIN_MS = 20;

/** The project's directory (where cluster.ts is), without node:path, whose loading costs every process 2 ms. */
const PROJECT_ROOT = import.meta.dir.slice(0, import.meta.dir.lastIndexOf("/"));

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
  if (stamp.entries.join(" ") !== BYTECODE_ENTRIES.join(" ")) return `it was built for the entries ${stamp.entries.join(", ")}`;
  for (const [path, size, mtimeMs] of stamp.inputs) {
    const now = statOf(`${expected.root}/${path}`);
    if (now === undefined) return `'${path}' is gone`;
    if (now.size !== size || now.mtimeMs !== mtimeMs) return `'${path}' changed`;
  }
  return undefined;
}

/** The compiled file to run for `entry` when the cache is fresh; undefined means: run the source. */
export function compiledEntry(entry: BytecodeEntry, options: BytecodeCacheOptions = {}): string | undefined {
  return compiledEntries(options)?.[entry];
}

/** The compiled file of every entry when the cache is fresh (one check for all); undefined means: run the sources. */
export function compiledEntries(options: BytecodeCacheOptions = {}): Record<BytecodeEntry, string> | undefined {
  const { root, cacheDir, env } = resolveOptions(options);
  if (env.CLUSTER_BYTECODE === "off") return undefined;
  const stamp = readStamp(cacheDir);
  if (staleReason(stamp, { bun: Bun.revision, root }, statFile) !== undefined) return undefined;
  const build = `${cacheDir}/${(stamp as BytecodeStamp).build}`;
  return Object.fromEntries(BYTECODE_ENTRIES.map((entry) => [entry, `${build}/${entry.replace(/\.ts$/, ".js")}`])) as Record<BytecodeEntry, string>;
}

/**
 * Builds the cache unless it is fresh or turned off; resolves to whether a fresh build is there
 * now. A build that cannot be made leaves the cache as it was: the sources run instead.
 */
export async function ensureBytecode(options: BytecodeCacheOptions = {}): Promise<boolean> {
  const { root, cacheDir, env } = resolveOptions(options);
  if (env.CLUSTER_BYTECODE === "off") return false;
  if (compiledEntry(BYTECODE_ENTRIES[0], options) !== undefined) return true;
  const startedAt = Date.now();
  const build = `${startedAt.toString(36)}-${process.pid}-${buildsMade++}`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const result = await Bun.build({
      entrypoints: BYTECODE_ENTRIES.map((entry) => `${root}/${entry}`),
      root,
      outdir: `${cacheDir}/${build}`,
      target: "bun",
      // Bytecode without `compile` is CommonJS only; packages stay where npm put them.
      format: "cjs",
      bytecode: true,
      packages: "external",
      metafile: true,
      throw: false,
    });
    if (!result.success || result.metafile === undefined) {
      removeBuild(cacheDir, build);
      return false;
    }
    // The metafile names inputs relative to the working directory.
    const { relative, resolve } = await import("node:path");
    const bundled = Object.keys(result.metafile.inputs).map((input) => relative(root, resolve(input)));
    // tsconfig.json is no module, but its settings shape how Bun transpiles every one.
    const settings = statFile(`${root}/tsconfig.json`) ? ["tsconfig.json"] : [];
    const inputs = [...bundled, ...settings].map((path): [string, number, number] => {
      const { size, mtimeMs } = statSync(`${root}/${path}`);
      return [path, size, mtimeMs];
    });
    // A file saved while it was being bundled may be in the build as it was before: stamping the
    // build with its new time would run old code as new. (The kernel's clock for file times
    // lags by up to a tick, hence the margin.)
    if (inputs.some(([, , mtimeMs]) => mtimeMs >= startedAt - MTIME_MARGIN_MS)) {
      removeBuild(cacheDir, build);
      return false;
    }
    const stamp: BytecodeStamp = { format: STAMP_FORMAT, bun: Bun.revision, root, entries: [...BYTECODE_ENTRIES], build, inputs };
    // Loaded only here: a run from a fresh cache needs nothing of home.ts before its verb.
    const { writeFileAtomic } = await import("./home.ts");
    writeFileAtomic(`${cacheDir}/current.json`, `${JSON.stringify(stamp, null, 2)}\n`);
    removeOldBuilds(cacheDir, build);
    return true;
  } catch {
    removeBuild(cacheDir, build);
    return false;
  }
}

/** Removes what a failed build left; a cache directory that cannot be written holds nothing to remove. */
function removeBuild(cacheDir: string, build: string): void {
  try {
    rmSync(`${cacheDir}/${build}`, { recursive: true, force: true });
  } catch {
    // Nothing was written there.
  }
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
  for (const old of builds.slice(KEPT_BUILDS)) rmSync(`${cacheDir}/${old}`, { recursive: true, force: true });
}
