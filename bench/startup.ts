/**
 * How far each lifecycle verb is from the start of a bare Bun process. On a shared machine an
 * absolute figure says little (it doubles when the load does), so each verb is timed as a
 * whole CLI process (`bun cluster.ts <verb>`, start-up included) and divided by the start of
 * `bun empty.ts`, measured in the same run: before every verb one bare start is timed, so a
 * change in load falls on both.
 *
 *   bun bench/startup.ts [--runs 15] [--against DIR]
 *
 * One run is one lifecycle of a 3-SPU cluster in a fresh temp home: create --spus 3, status,
 * shutdown, resume, delete, each with `--json` (the scripting interface, so a failure names its
 * error code). It prints the median and min..max of every verb and of the bare start, each
 * verb as a multiple of the bare median, the targets with met or missed, and one JSON line.
 * With `--against DIR` (another checkout of this project with its own `npm ci`, such as a git
 * worktree of an earlier commit) each run does one lifecycle with each checkout, in turns, so
 * both are measured in the same minutes against the same bare starts.
 * Clusters use the port blocks 32000-32699 (below the kernel's ephemeral range, above the
 * tests' blocks), a different one each run. Whatever it started is deleted, or its recorded
 * pids killed, also on failure and on Ctrl-C.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cleanUpStarted, removeHome, runCleaningUp, startedSet } from "./started.ts";

const CLI = new URL("../cluster.ts", import.meta.url).pathname;
const VERBS = ["create", "status", "shutdown", "resume", "delete"] as const;
type Verb = (typeof VERBS)[number];

/** The targets of issue 12, as multiples of a bare Bun start in the same run. */
const TARGETS: Partial<Record<Verb, number>> = { status: 4, create: 10, resume: 10, shutdown: 5 };
const SPUS = 3;
const FIRST_PORT_BASE = 32_000;
const PORT_BLOCKS = 7;
const PORT_BLOCK_SIZE = 100;
const COMMAND_TIMEOUT_MS = 60_000;

interface Spread {
  median: number;
  min: number;
  max: number;
}

/** What this run started and has not yet cleaned up. */
const started = startedSet();

/** A checkout whose CLI is timed. */
interface Checkout {
  label: string;
  cli: string;
}

function parseOptions(): { runs: number; checkouts: Checkout[] } {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "15" }, against: { type: "string" } }, strict: true });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
  const checkouts = [{ label: "this checkout", cli: CLI }];
  if (values.against !== undefined) {
    const dir = resolve(values.against);
    const cli = join(dir, "cluster.ts");
    if (!Bun.file(cli).size) throw new Error(`--against needs a checkout of this project: there is no '${cli}'`);
    checkouts.push({ label: basename(dir), cli });
  }
  return { runs, checkouts };
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median: round(median), min: round(sorted[0]!), max: round(sorted.at(-1)!) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Runs `argv` in `cwd` to its end and returns its wall time; a non-zero exit, or a hang, throws with its output. */
async function timeProcess(argv: string[], cwd: string): Promise<number> {
  const begin = performance.now();
  const child = Bun.spawn(argv, { cwd, env: process.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  started.commands.add(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
  const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const elapsed = performance.now() - begin;
  clearTimeout(timer);
  started.commands.delete(child);
  if (exitCode !== 0) throw new Error(`'${argv.join(" ")}' exited ${exitCode}:\n${stdout}${stderr}`);
  return elapsed;
}

/** One lifecycle of `cli` in a fresh home on port block `portBase`: each verb's time, and a bare start timed before each. */
async function runLifecycle(cli: string, portBase: number, bareFile: string, cwd: string) {
  const home = mkdtempSync(join(tmpdir(), "cluster-bench-startup-"));
  started.homes.add(home);
  // Fluvio's config file in the temp home (the verbs inherit this environment): a bench never writes a profile into the real one.
  process.env.FLV_PROFILE_PATH = join(home, ".fluvio", "config");
  const args: Record<Verb, string[]> = {
    create: ["--spus", String(SPUS), "--port-base", String(portBase)],
    status: [],
    shutdown: [],
    resume: [],
    delete: [],
  };
  const ms = {} as Record<Verb, number>;
  const bare: number[] = [];
  for (const verb of VERBS) {
    bare.push(await timeProcess([process.execPath, bareFile], cwd));
    ms[verb] = await timeProcess([process.execPath, cli, verb, "--home", home, "--json", ...args[verb]], cwd);
  }
  removeHome(started, home);
  return { ms, bare };
}

function formatTable(bare: Spread, verbs: Record<Verb, Spread>): string {
  const header = ["", "median ms", "min..max ms", "x bare", "target", ""];
  const rows = [
    ["bare bun", String(bare.median), `${bare.min}..${bare.max}`, "1.0", "", ""],
    ...VERBS.map((verb) => {
      const ratio = verbs[verb].median / bare.median;
      const target = TARGETS[verb];
      return [
        verb === "create" ? `create --spus ${SPUS}` : verb,
        String(verbs[verb].median),
        `${verbs[verb].min}..${verbs[verb].max}`,
        ratio.toFixed(1),
        target === undefined ? "" : `<= ${target}x`,
        target === undefined ? "" : ratio <= target ? "met" : "missed",
      ];
    }),
  ];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Stops and removes whatever this run started and still holds; safe to call twice. */
function cleanUp(): void {
  cleanUpStarted(started);
}

async function main(): Promise<void> {
  const { runs, checkouts } = parseOptions();
  // Every process runs from this empty directory, so none finds a bunfig.toml or package.json the others do not.
  const cwd = mkdtempSync(join(tmpdir(), "cluster-bench-startup-cwd-"));
  started.dirs.add(cwd);
  const bareFile = join(cwd, "empty.ts");
  writeFileSync(bareFile, "");
  const portBase = (run: number) => FIRST_PORT_BASE + PORT_BLOCK_SIZE * (run % PORT_BLOCKS);

  const loadBefore = loadavg();
  process.stderr.write(`load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}; warming up`);
  // The warm-up also lets each checkout's CLI build its bytecode cache (lib/startup/bytecode-cache.ts) if it has one.
  for (const checkout of checkouts) await runLifecycle(checkout.cli, portBase(runs), bareFile, cwd);
  const timed = checkouts.map(() => ({ ms: Object.fromEntries(VERBS.map((verb) => [verb, [] as number[]])) as Record<Verb, number[]>, bare: [] as number[] }));
  for (let run = 0; run < runs; run++) {
    // In turns, the first checkout first in even runs: neither always follows the other.
    const order = checkouts.map((_, index) => index);
    if (run % 2 === 1) order.reverse();
    for (const index of order) {
      const result = await runLifecycle(checkouts[index]!.cli, portBase(run * checkouts.length + index), bareFile, cwd);
      for (const verb of VERBS) timed[index]!.ms[verb].push(result.ms[verb]);
      timed[index]!.bare.push(...result.bare);
    }
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  const loadAfter = loadavg();

  const results = checkouts.map((checkout, index) => {
    const bareMs = spread(timed[index]!.bare);
    const ms = Object.fromEntries(VERBS.map((verb) => [verb, spread(timed[index]!.ms[verb])])) as Record<Verb, Spread>;
    const ratio = (verb: Verb) => ms[verb].median / bareMs.median;
    const ratios = Object.fromEntries(VERBS.map((verb) => [verb, Math.round(ratio(verb) * 100) / 100]));
    const met = Object.fromEntries(Object.entries(TARGETS).map(([verb, target]) => [verb, ratio(verb as Verb) <= target]));
    return { checkout: checkout.label, cli: checkout.cli, bareMs, ms, ratios, met };
  });
  for (const result of results) {
    if (checkouts.length > 1) console.log(`${result.checkout} (${result.cli})`);
    console.log(formatTable(result.bareMs, result.ms));
    console.log();
  }
  console.log(`medians over ${runs} lifecycle(s) of ${SPUS} SPUs after one warm-up; the bare start ${runs * VERBS.length} times per checkout, once before each verb`);
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`);
  const [first, ...others] = results;
  console.log(
    JSON.stringify({
      bench: "startup",
      bun: Bun.version,
      runs,
      spus: SPUS,
      loadavg: { before: loadBefore, after: loadAfter },
      bareMs: first!.bareMs,
      ms: first!.ms,
      ratios: first!.ratios,
      targets: TARGETS,
      met: first!.met,
      ...(others.length > 0 && { against: others }),
    }),
  );
}

await runCleaningUp(main, cleanUp);
