/**
 * What every verb shares on the command line (`--name`, `--home`, `--json`) and how results
 * reach the user: results on stdout (text, or exactly one JSON document with `--json`);
 * progress on stderr, and only when a person is watching a terminal.
 */
import type { Argv } from "yargs";

export interface CommonArgs {
  name?: string;
  home?: string;
  json?: boolean;
}

/** Adds `--name` and `--home` (and their environment variables) to a command. */
export function clusterOptions<T>(yargs: Argv<T>) {
  return yargs
    .option("name", {
      type: "string",
      describe: "Cluster name [env CLUSTER_NAME] (default: local)",
    })
    .option("home", {
      type: "string",
      describe: "Directory holding every cluster [env CLUSTER_HOME] (default: ~/.local/state/cluster)",
    });
}

/** Adds `--timeout` in seconds with a verb-specific meaning and default. */
export function timeoutOption<T>(yargs: Argv<T>, describe: string, seconds: number) {
  return yargs.option("timeout", { type: "number", describe, default: seconds });
}

/** Prints `result` as one JSON document with `--json`, else as `format` renders it. */
export function printResult<T>(argv: CommonArgs, result: T, format: (result: T) => string): void {
  process.stdout.write(argv.json ? `${JSON.stringify(result, null, 2)}\n` : `${format(result)}\n`);
}

/** Shows one transient progress line on a terminal; a no-op when stderr is not a TTY or with `--json`. */
export function createProgress(argv: CommonArgs): { update(text: string): void; clear(): void } {
  const enabled = Boolean(process.stderr.isTTY) && !argv.json;
  let shown = false;
  return {
    update(text) {
      if (!enabled) return;
      process.stderr.write(`\r\x1b[2K${text}`);
      shown = true;
    },
    clear() {
      if (enabled && shown) process.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}

/** "0.23s" */
export function formatSeconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(2)}s`;
}
