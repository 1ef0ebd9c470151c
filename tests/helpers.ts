/**
 * What the end-to-end tests share: a fresh temp `--home` per test, the real CLI run as a
 * subprocess, a distinct port block per cluster, and a cleanup that stops every
 * process a test's clusters recorded (by pid and start time, never by name) even when the
 * test failed.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterPaths } from "../lib/cluster/home.ts";
import { stopProcesses } from "../lib/base/procs.ts";
import { readState, type ProcessEntry } from "../lib/cluster/state.ts";

export const CLI = join(import.meta.dir, "..", "cluster.ts");
const homes: string[] = [];

/** A new empty home, removed (with every process of its clusters stopped) after the test. */
export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), "cluster-test-"));
  homes.push(home);
  return home;
}

/**
 * Stops every process recorded by the clusters of the test's temp homes and removes them.
 * tests/setup.ts (preloaded by bunfig.toml) runs it after every test of every file: a hook
 * registered here would bind only to the first test file that imports this module.
 */
export async function removeTempHomes(): Promise<void> {
  for (const home of homes.splice(0)) {
    await stopEverything(home);
    rmSync(home, { recursive: true, force: true });
  }
}

/** Every process recorded by the clusters of `home`. */
export function recordedProcesses(home: string): ProcessEntry[] {
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    try {
      return readState(clusterPaths(home, name)).processes;
    } catch {
      return [];
    }
  });
}

async function stopEverything(home: string): Promise<void> {
  await stopProcesses(recordedProcesses(home), { graceMs: 2_000 });
}

/**
 * Port blocks for one test file: below 32768, so no kernel-chosen client port can take them.
 * Each file passes its own `first` so files never share a block.
 */
export function portBlocks(first: number): () => number {
  let next = first;
  return () => {
    const base = next;
    next += 100;
    return base;
  };
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json: any;
}

/**
 * Runs `cluster ...args` in `home` and returns its exit code and output; never throws on a
 * non-zero exit. NOTE: Bun.spawn, not zx: zx 8.8.5 decodes each chunk of output on its own, so
 * a character split between two chunks (large non-ASCII output) came back as U+FFFD.
 */
export async function cli(home: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  // Fluvio's config file in the test's home, so a cluster's profile never reaches the real one.
  const env: Record<string, string | undefined> = { ...process.env, CLUSTER_HOME: home, FLV_PROFILE_PATH: join(home, ".fluvio", "config"), ...options.env };
  delete env.CLUSTER_NAME;
  if (options.env?.CLUSTER_NAME !== undefined) env.CLUSTER_NAME = options.env.CLUSTER_NAME;
  const child = Bun.spawn([process.execPath, CLI, ...args], {
    env,
    stdin: options.input === undefined ? "ignore" : Buffer.from(options.input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { exitCode, stdout, stderr, json };
}
