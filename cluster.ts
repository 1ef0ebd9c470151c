#!/usr/bin/env bun
/**
 * The `cluster` bin: runs the CLI (lib/cli.ts) from the bytecode cache (lib/startup/bytecode-cache.ts)
 * when it matches the sources, else from the sources at once: a stale or broken cache starts a
 * detached rebuild for the commands after this one, which this one never waits for.
 *
 * NOTE: this file imports only the freshness check: whatever it imports is compiled anew on
 * every run, so the build's own code (lib/startup/bytecode-cache.ts) is loaded only to start a
 * rebuild.
 */
import { runMode, type RunMode } from "./lib/startup/run-mode.ts";

type Cli = typeof import("./lib/cli.ts");

async function loadCli(): Promise<{ cli: Cli; mode: RunMode }> {
  let mode = runMode();
  if (mode.mode === "compiled") {
    try {
      return { cli: require(mode.files.cli) as Cli, mode };
    } catch (error) {
      // Removed or damaged since it was checked: as broken as a missing file.
      const message = (error as Error).message.split("\n")[0];
      mode = { mode: "sources", reason: `the bytecode cache's '${mode.files.cli}' does not load (${message})`, rebuild: true, broken: true };
    }
  }
  if (mode.rebuild) {
    const { startRebuild } = await import("./lib/startup/bytecode-cache.ts");
    if (startRebuild()) mode.reason += "; a rebuild was started";
  }
  // One line: a cache missing a file is worth saying, a stale one (after any edit) is not.
  if (mode.broken) console.error(`warning: ${mode.reason}; running the sources`);
  return { cli: await import("./lib/cli.ts"), mode };
}

if (import.meta.main) {
  const { cli, mode } = await loadCli();
  // What yargs' hideBin returns outside Electron, without loading yargs.
  process.exitCode = await cli.main(process.argv.slice(2), mode);
}
