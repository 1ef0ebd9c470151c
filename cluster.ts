#!/usr/bin/env bun
/**
 * The `cluster` bin: runs the CLI (lib/cli.ts) from the bytecode cache (lib/bytecode-cache.ts),
 * building the cache first when it is stale, or from the sources when it cannot be built.
 *
 * NOTE: this file imports nothing else: whatever it imported would be compiled anew on every run.
 */
import { compiledFiles, ensureBytecode } from "./lib/startup/bytecode-cache.ts";

type Cli = typeof import("./lib/cli.ts");

async function loadCli(): Promise<Cli> {
  const compiled = compiledFiles()?.cli ?? ((await ensureBytecode()) ? compiledFiles()?.cli : undefined);
  return compiled === undefined ? await import("./lib/cli.ts") : (require(compiled) as Cli);
}

if (import.meta.main) {
  // What yargs' hideBin returns outside Electron, without loading yargs.
  process.exitCode = await (await loadCli()).main(process.argv.slice(2));
}
