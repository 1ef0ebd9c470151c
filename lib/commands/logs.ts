/**
 * `cluster logs`: the last lines of a cluster's logs (the SC's and each SPU's), each prefixed by
 * its component, and with `-f` every line appended after them until interrupted. It reads only
 * files, so it works on a stopped cluster as well as on a running one, which is when the logs
 * matter most.
 */
import { closeSync, openSync, readdirSync, statSync } from "node:fs";
import type { Argv } from "yargs";
import { ClusterError, UsageError } from "../base/errors.ts";
import { readAt, readLastLines } from "../base/file-tail.ts";
import { logFileOf, type ClusterPaths } from "../cluster/home.ts";
import { planComponents } from "../cluster/launch.ts";
import { clusterOptions, type CommonArgs } from "../terminal/output.ts";
import { locateCluster } from "../cluster/locate.ts";
import { readSavedSpec } from "../cluster/state.ts";

/** One line of one component's log. */
export interface LogLine {
  component: string;
  line: string;
}

/** A component's log file, and how far into it has been read. */
export interface LogSource {
  component: string;
  path: string;
  offset: number;
}

/** Which logs `readLogs` reads: the cluster, one component or all, and how many lines of each. */
export interface LogsOptions {
  home?: string;
  name?: string;
  /** "sc" or "spu-<id>"; every component when absent. */
  component?: string;
  /** Lines from the end of each log (default 20). */
  lines?: number;
}

/** Lines from the end of each log when `-n` is not given. */
export const DEFAULT_LOG_LINES = 20;
const LOG_FILE_PATTERN = /^(sc|spu-\d+)\.log$/;
const POLL_MS = 200;

/**
 * The components that have (or will have) a log: those of the saved spec, the SC first, then
 * any other log file in `logs/`, so a cluster whose spec is missing or broken still shows its logs.
 */
export function listLogComponents(paths: ClusterPaths): string[] {
  let fromSpec: string[] = [];
  try {
    const spec = readSavedSpec(paths);
    if (spec) fromSpec = planComponents(spec, paths).map((component) => component.name);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
  }
  let files: string[] = [];
  try {
    files = readdirSync(paths.logs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const fromFiles = files
    .map((file) => LOG_FILE_PATTERN.exec(file)?.[1])
    .filter((component): component is string => component !== undefined && !fromSpec.includes(component))
    .sort(compareComponents);
  return [...fromSpec, ...fromFiles];
}

/** "sc" first, then SPUs by id. */
function compareComponents(a: string, b: string): number {
  const rank = (component: string) => (component === "sc" ? -1 : Number(component.slice("spu-".length)));
  return rank(a) - rank(b);
}

/** The log files `component` selects (all when absent); a usage error naming the valid ones otherwise. */
export function selectLogSources(paths: ClusterPaths, component?: string): LogSource[] {
  const components = listLogComponents(paths);
  if (component !== undefined && !components.includes(component)) {
    const valid = components.length > 0 ? components.map((name) => `'${name}'`).join(", ") : "none yet";
    throw new UsageError(`unknown component '${component}' of cluster '${paths.name}'; valid components: ${valid}`);
  }
  return (component === undefined ? components : [component]).map((name) => ({
    component: name,
    path: logFileOf(paths, name),
    offset: 0,
  }));
}

/**
 * The last lines of the selected logs, component by component, and the sources positioned at
 * their ends for `followLogs`.
 */
export function readLogs(options: LogsOptions): { lines: LogLine[]; sources: LogSource[] } {
  const count = options.lines ?? DEFAULT_LOG_LINES;
  if (!Number.isInteger(count) || count < 0) throw new UsageError(`--lines must be a whole number of 0 or more (got ${count})`);
  const sources = selectLogSources(locateCluster(options, "exist"), options.component);
  const lines = sources.flatMap((source) => {
    const tail = readLastLines(source.path, count);
    source.offset = tail.size;
    return tail.lines.map((line) => ({ component: source.component, line }));
  });
  return { lines, sources };
}

/**
 * Calls `onLine` for every complete line appended to `sources` after their offsets, polling
 * each file, until `signal` aborts. A file that shrinks or disappears (a `delete` and `create`)
 * is read again from its start.
 */
export async function followLogs(sources: LogSource[], onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void> {
  const pending = new Map(sources.map((source) => [source, { decoder: new TextDecoder(), text: "" }]));
  while (!signal.aborted) {
    for (const source of sources) {
      const buffered = pending.get(source)!;
      const appended = readAppended(source);
      if (appended === undefined) {
        buffered.decoder = new TextDecoder();
        buffered.text = "";
        continue;
      }
      const lines = (buffered.text + buffered.decoder.decode(appended, { stream: true })).split("\n");
      buffered.text = lines.pop()!;
      for (const line of lines) onLine({ component: source.component, line });
    }
    await sleep(POLL_MS, signal);
  }
}

/** The bytes appended since `source.offset` (moving it on); `undefined` when the file was replaced or removed. */
function readAppended(source: LogSource): Buffer | undefined {
  let size: number;
  try {
    size = statSync(source.path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    source.offset = 0;
    return undefined;
  }
  if (size < source.offset) {
    source.offset = 0;
    return undefined;
  }
  if (size === source.offset) return Buffer.alloc(0);
  const fd = openSync(source.path, "r");
  try {
    const bytes = readAt(fd, source.offset, size - source.offset);
    source.offset += bytes.length;
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, milliseconds);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** "spu-5001 | SPU 5001 connected to SC 127.0.0.1:9004" */
export function formatLogLine(line: LogLine): string {
  return `${line.component} | ${line.line}`;
}

interface LogsArgs extends CommonArgs {
  component?: string;
  follow?: boolean;
  lines: number;
}

export const logsCommand = {
  command: "logs [component]",
  describe: "Print the last lines of a cluster's logs (the SC's and each SPU's), and with -f follow them",
  builder: (yargs: Argv) =>
    clusterOptions(yargs)
      .positional("component", { type: "string", describe: "'sc' or 'spu-<id>' (default: every component)" })
      .option("follow", { alias: "f", type: "boolean", describe: "Keep printing lines as they are appended, until interrupted" })
      .option("lines", { alias: "n", type: "number", default: DEFAULT_LOG_LINES, describe: "Lines from the end of each log" })
      .example("$0 logs spu-5002 -n 50", "the last 50 lines of SPU 5002's log")
      .example("$0 logs -f --name dev", "every log of cluster 'dev', then new lines as they come (Ctrl-C ends)"),
  handler: async (argv: LogsArgs): Promise<number> => {
    if (argv.follow && argv.json) throw new UsageError("--json prints one document, so it cannot be combined with --follow");
    const { lines, sources } = readLogs(argv);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ lines }, null, 2)}\n`);
      return 0;
    }
    for (const line of lines) process.stdout.write(`${formatLogLine(line)}\n`);
    if (!argv.follow) return 0;
    const interrupted = new AbortController();
    const stop = () => interrupted.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      await followLogs(sources, (line) => process.stdout.write(`${formatLogLine(line)}\n`), interrupted.signal);
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    return 0;
  },
};
