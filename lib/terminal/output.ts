/**
 * What every verb shares on the command line (`--name`, `--home`, `--json`, `--quiet`) and how
 * results reach the user: results on stdout (text, or exactly one JSON document with `--json`);
 * progress on stderr, redrawn in place on a terminal and as plain lines otherwise, so a person
 * watching sees it move and a log file or CI output stays readable.
 *
 * NOTE: touching `process.stdout` or `process.stderr` builds a Node stream, which costs a Bun
 * process about 12 ms, as long as Bun itself takes to start. So lines go out through
 * `console.log` and `console.error` (written at once, a lone string printed as it is), the
 * terminal's redraws through `writeSync`, and the terminal is asked for with isatty(3).
 */
import type { Argv } from "yargs";
import { writeSync } from "node:fs";
import { UsageError } from "../base/errors.ts";
import { formatPlan, type ShownPlan } from "../cluster/plan.ts";

export interface CommonArgs {
  name?: string;
  home?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The options every verb takes, as yargs declares them (lib/startup/fast-argv.ts reads the same). */
export const GLOBAL_OPTIONS = {
  json: { type: "boolean", global: true, describe: "Print exactly one JSON document on stdout" },
  quiet: { type: "boolean", global: true, describe: "Print only errors (the exit code tells the rest)" },
} as const;

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

/**
 * Adds `--timeout` in seconds with a verb-specific meaning and default. It must be a finite
 * number of at least 0: `--timeout abc` parses as NaN, and a deadline of NaN never passes.
 */
export function timeoutOption<T>(yargs: Argv<T>, describe: string, seconds: number) {
  return yargs.option("timeout", { type: "number", describe, default: seconds }).check((argv) => {
    const timeout = argv.timeout as number;
    if (Number.isFinite(timeout) && timeout >= 0) return true;
    throw new UsageError(`--timeout must be a number of seconds, 0 or more (got ${Number.isNaN(timeout) ? "something that is not a number" : timeout})`);
  });
}

/** Prints `result` as one JSON document with `--json`, else as `format` renders it; nothing with `--quiet`. */
export function printResult<T>(argv: CommonArgs, result: T, format: (result: T) => string): void {
  if (argv.json) console.log(JSON.stringify(result, null, 2));
  else if (!argv.quiet) console.log(format(result));
}

/** Where progress goes: redrawn on a terminal, plain lines elsewhere, nowhere with `--json` or `--quiet`. */
export type ProgressMode = "tty" | "plain" | "silent";

export function progressMode(argv: CommonArgs, isTty?: boolean): ProgressMode {
  if (argv.json || argv.quiet) return "silent";
  return (isTty ?? isStderrTerminal()) ? "tty" : "plain";
}

/** isatty(2), loaded only when asked (bun:ffi costs about 1 ms to load, and `status` never asks). */
function isStderrTerminal(): boolean {
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const { symbols } = dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
    isatty: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  return symbols.isatty(2) === 1;
}

/** Writes all of `text` to the terminal on stderr, waiting out a terminal that is set non-blocking. */
function writeToTerminal(text: string): void {
  let bytes: Uint8Array = Buffer.from(text);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(2, bytes));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Bun.sleepSync(1);
    }
  }
}

/**
 * Progress on stderr. On a terminal one line is redrawn with the time elapsed; otherwise each
 * new message is one plain line (repeats dropped), without escape codes.
 */
export function createProgress(argv: CommonArgs): { update(text: string): void; clear(): void } {
  const mode = progressMode(argv);
  const started = performance.now();
  let last = "";
  let shown = false;
  return {
    update(text) {
      if (mode === "silent") return;
      if (mode === "plain") {
        if (text !== last) console.error(text);
        last = text;
        return;
      }
      writeToTerminal(`\r\x1b[2K${text} (${formatSeconds(performance.now() - started)})`);
      shown = true;
    },
    clear() {
      if (mode === "tty" && shown) writeToTerminal("\r\x1b[2K");
      shown = false;
    },
  };
}

/** "0.23s" */
export function formatSeconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(2)}s`;
}

/** The arguments of a lifecycle verb: `--dry-run`, and `--timeout` where it has one, besides the common ones. */
export interface LifecycleArgs extends CommonArgs {
  timeout?: number;
  dryRun?: boolean;
}

/** The options every lifecycle verb's function takes from its arguments: `--home`, `--name`, `--timeout`. */
export function lifecycleOptions(argv: LifecycleArgs): { home?: string; name?: string; timeoutSeconds?: number } {
  return { home: argv.home, name: argv.name, timeoutSeconds: argv.timeout };
}

/**
 * The handler of a lifecycle verb: with `--dry-run` it prints the plan `preview` shows; else it
 * runs the verb with progress on stderr and prints the result. Resolves to the exit code, 0.
 */
export function lifecycleHandler<Args extends LifecycleArgs, Options, Result>(verb: {
  /** The verb's options from its arguments. */
  options: (argv: Args) => Options;
  preview: (options: Options) => Promise<ShownPlan>;
  run: (options: Options & { onProgress: (text: string) => void }) => Promise<Result>;
  format: (result: Result) => string;
}): (argv: Args) => Promise<number> {
  return async (argv) => {
    const options = verb.options(argv);
    if (argv.dryRun) {
      printResult(argv, await verb.preview(options), formatPlan);
      return 0;
    }
    const progress = createProgress(argv);
    const result = await verb.run({ ...options, onProgress: progress.update }).finally(progress.clear);
    printResult(argv, result, verb.format);
    return 0;
  };
}
