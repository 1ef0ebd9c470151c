/**
 * How a command runs: from the bytecode cache (lib/startup/bytecode-cache.ts builds it) when its
 * current.json names this Bun, this project and these entries, every input has the size and
 * modification time it was built from, and every output is there; else from the sources.
 *
 * NOTE: apart from the build because cluster.ts imports it from source on every command, and
 * Bun compiles what it imports each time: the build's code (Bun.build, the lock, the lease)
 * cost every `status` about 1 ms to compile and was run only after an edit.
 */
import { readFileSync, statSync } from "node:fs";

/** What the cache compiles: the CLI (run by `cluster.ts`) and the daemons' one entry. */
export const CLI_ENTRY = "lib/cli.ts";
export const DAEMON_ENTRY = "lib/engine/daemon.ts";
export const ENTRIES = [CLI_ENTRY, DAEMON_ENTRY];
export const CLI_OUTPUT = "lib/cli.js";
export const DAEMON_OUTPUT = "cluster-daemon";

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
export const STAMP_FORMAT = 3;

/** A build's directory name: when it was made (base 36), by which process, and its number in that process. */
export const BUILD_NAME = /^([0-9a-z]+)-[0-9]+-[0-9]+$/;

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
 * the reason either way. Reads current.json and stats every input and output (about 200 files).
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

/** `; its last rebuild failed: ...` when the lease records a failure, else nothing. */
function lastRebuildFailure(cacheDir: string): string {
  try {
    const failure = readFileSync(`${cacheDir}/rebuild`, "utf8").trim();
    return failure === "" ? "" : `; its last rebuild failed: ${failure}`;
  } catch {
    return "";
  }
}

export function resolveOptions(options: BytecodeCacheOptions): Required<BytecodeCacheOptions> {
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

/**
 * A file's size and modification time, or undefined when it cannot be looked at.
 *
 * NOTE: Node's Stats as they come, and no exception for a missing file: with a copy of each
 * and an exception for each missing one, the check of about 200 inputs took `status` 0.4 ms
 * more of CPU (perf stat, 40 runs interleaved).
 */
export function statFile(path: string): { size: number; mtimeMs: number } | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
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
