/**
 * `cluster diagnostics`: one `.tar.gz` to attach to a bug report, holding what it takes to see
 * what a cluster did: its saved spec, its state, the SC's metadata store, the last lines of
 * every log, and the status as `status --json` prints it. It reads only the cluster's own
 * directory (regular files, no symlinks followed), never partition data, and changes nothing,
 * so it works on a stopped or broken cluster as well.
 */
import { chmodSync, cpSync, lstatSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import type { Argv } from "yargs";
import { ClusterError } from "../base/errors.ts";
import { type ClusterPaths } from "../cluster/home.ts";
import { ensureDir, removePath } from "../base/files.ts";
import { readLastLines } from "../base/file-tail.ts";
import { locateCluster } from "../cluster/locate.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";
import { observeCluster } from "./status.ts";

export interface DiagnosticsOptions {
  home?: string;
  name?: string;
  /** The archive to write; default `cluster-diagnostics-<name>-<timestamp>.tar.gz` in `cwd`. */
  output?: string;
  cwd?: string;
}

export interface DiagnosticsResult {
  name: string;
  /** Absolute path of the archive written. */
  path: string;
  /** The files in the archive, relative to its top directory. */
  files: string[];
}

const DIAGNOSTICS_LOG_LINES = 200;

/** "cluster-diagnostics-dev-20261125T095634Z" */
export function diagnosticsBaseName(name: string, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(/[-:]/g, "");
  return `cluster-diagnostics-${name}-${stamp}`;
}

/** Writes the diagnostics archive of the cluster `options` select and returns where. */
export async function writeDiagnostics(options: DiagnosticsOptions): Promise<DiagnosticsResult> {
  const paths = locateCluster(options, "exist");
  const top = diagnosticsBaseName(paths.name, new Date());
  const cwd = options.cwd ?? process.cwd();
  const output = resolve(cwd, options.output ?? `${top}.tar.gz`);
  const staging = mkdtempSync(join(tmpdir(), "cluster-diagnostics-"));
  try {
    const root = join(staging, top);
    ensureDir(root);
    stageClusterFiles(paths, root);
    writeFileSync(join(root, "status.json"), `${JSON.stringify(await observeCluster(paths, { figures: true }), null, 2)}\n`, { mode: 0o600 });
    await createArchive(output, staging, top);
    return { name: paths.name, path: output, files: listFiles(root).map((file) => relative(root, file)).sort() };
  } finally {
    removePath(staging);
  }
}

/** Copies the spec, the state, the metadata store and each log's tail of `paths` into `root`. */
function stageClusterFiles(paths: ClusterPaths, root: string): void {
  for (const file of [paths.spec, paths.state]) {
    if (isRegularFile(file)) cpSync(file, join(root, basename(file)));
  }
  if (isRealDirectory(paths.metadata)) {
    // NOTE: a store write in flight leaves a `.tmp` file that may vanish while being copied.
    cpSync(paths.metadata, join(root, "metadata"), {
      recursive: true,
      filter: (source) => !source.endsWith(".tmp") && (isRealDirectory(source) || isRegularFile(source)),
    });
  }
  if (!isRealDirectory(paths.logs)) return;
  ensureDir(join(root, "logs"));
  for (const file of readdirSync(paths.logs)) {
    const path = join(paths.logs, file);
    if (!file.endsWith(".log") || !isRegularFile(path)) continue;
    const { lines } = readLastLines(path, DIAGNOSTICS_LOG_LINES);
    writeFileSync(join(root, "logs", file), lines.map((line) => `${line}\n`).join(""), { mode: 0o600 });
  }
}

/** `tar -czf output -C staging top`, run through zx (loaded only here: it costs the CLI's start time). */
async function createArchive(output: string, staging: string, top: string): Promise<void> {
  const { $ } = await import("zx");
  const argv = ["tar", "-czf", output, "-C", staging, top];
  const result = await $({ quiet: true, nothrow: true })`${argv}`;
  if (result.exitCode !== 0) {
    const stderr = result.stderr.trim().split("\n").slice(-5).join("\n");
    throw new ClusterError("DIAGNOSTICS_FAILED", `'${argv.join(" ")}' exited with ${result.exitCode}: ${stderr}`, {
      hint: "pass a writable path with --output",
    });
  }
  // The archive holds the cluster's logs and metadata: as private as the cluster directory.
  chmodSync(output, 0o600);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

interface DiagnosticsArgs extends CommonArgs {
  output?: string;
}

export const diagnosticsCommand = {
  command: "diagnostics",
  describe: "Write a .tar.gz for a bug report: spec, state, metadata, the end of every log and the status",
  builder: (yargs: Argv) =>
    clusterOptions(yargs)
      .option("output", { alias: "o", type: "string", describe: "Archive to write (default: ./cluster-diagnostics-<name>-<time>.tar.gz)" })
      .example("$0 diagnostics --name dev", "write cluster-diagnostics-dev-<time>.tar.gz here and print its path")
      .example("$0 diagnostics -o /tmp/report.tar.gz", "choose where the archive goes"),
  handler: async (argv: DiagnosticsArgs): Promise<number> => {
    printResult(argv, await writeDiagnostics(argv), (result) => result.path);
    return 0;
  },
};
