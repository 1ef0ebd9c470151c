/**
 * What a bench has started and not yet cleaned up, and the clean-up both lifecycle benches
 * share: kill the commands still running, `cluster delete` each home (SIGKILL to the pids its
 * cluster recorded when that fails), remove the temp directories. Safe to call twice.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../lib/cluster/home.ts";
import { signalProcess } from "../lib/base/procs.ts";
import { readState } from "../lib/cluster/state.ts";

const CLI = join(import.meta.dir, "..", "cluster.ts");

export interface Started {
  commands: Set<Bun.Subprocess>;
  homes: Set<string>;
  dirs: Set<string>;
}

export function startedSet(): Started {
  return { commands: new Set(), homes: new Set(), dirs: new Set() };
}

/** Removes `home` and forgets it. */
export function removeHome(started: Started, home: string): void {
  rmSync(home, { recursive: true, force: true });
  started.homes.delete(home);
}

export function cleanUpStarted(started: Started): void {
  // A command cut off mid-verb would hold the cluster's lock against the delete below; with
  // its process gone the kernel drops the lock, and what it started exits or is recorded.
  for (const child of started.commands) child.kill("SIGKILL");
  started.commands.clear();
  for (const home of started.homes) {
    const deleted = Bun.spawnSync([process.execPath, CLI, "delete", "--home", home], { env: process.env, stdout: "ignore", stderr: "ignore" });
    if (deleted.exitCode !== 0) stopRecordedProcesses(home);
    removeHome(started, home);
  }
  for (const dir of started.dirs) rmSync(dir, { recursive: true, force: true });
  started.dirs.clear();
}

/** The fallback when `cluster delete` itself fails: SIGKILL the pids the cluster recorded. */
function stopRecordedProcesses(home: string): void {
  try {
    for (const entry of readState(clusterPaths(home, "local")).processes) signalProcess(entry, "SIGKILL");
  } catch (error) {
    process.stderr.write(`could not read the processes of '${home}': ${(error as Error).message}\n`);
  }
}

/** Runs `main`, then `cleanUp`, also when it fails or the bench is stopped with Ctrl-C or SIGTERM. */
export async function runCleaningUp(main: () => Promise<void>, cleanUp: () => void): Promise<void> {
  process.on("SIGINT", () => {
    cleanUp();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    cleanUp();
    process.exit(143);
  });
  try {
    await main();
  } finally {
    cleanUp();
  }
}
