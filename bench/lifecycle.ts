/**
 * Benchmark of the cluster lifecycle as a user meets it: each verb timed as the whole CLI
 * process (`bun cluster.ts <verb>`, start-up included), for clusters of several sizes, beside
 * a real peer doing the same job on the same machine in the same run: a Redis Cluster of as
 * many nodes, started and brought to `cluster_state:ok`. A figure on its own says little on a
 * shared machine; the ratio to a peer measured minutes apart says how far we are from a
 * well-known bar.
 *
 *   bun bench/lifecycle.ts [--runs 7] [--spus 1,3,8,32] [--peer-max 8]
 *
 * Per size it prints the median and min..max over the runs of create (to confirmed), status,
 * shutdown, resume (to confirmed) and delete; the peak RSS (VmHWM) of the SC and of one SPU,
 * and their private part (RssAnon: most of VmHWM is the Bun binary's pages, shared by every
 * Bun process); the Redis figures; then the per-SPU slope of create (least squares over the
 * sizes), and last one JSON line with every figure. The peer runs for sizes up to --peer-max
 * SPUs (default 8): `redis-cli --cluster create` waits for the join in whole-second sleeps, so
 * 32 nodes take many seconds per run. Clusters live in temp homes on ports 40000-44999, Redis on
 * 45000-46999 (client ports below 46000, cluster-bus ports 1000 above them), all on 127.0.0.1.
 * Whatever it started is deleted or stopped by recorded pid, also on failure and on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { clusterPaths } from "../lib/cluster/home.ts";
import { isAlive, readStartTime, signalProcess, waitForExit, type ProcessRecord } from "../lib/base/procs.ts";
import { readState } from "../lib/cluster/state.ts";
import { cleanUpStarted, removeHome, runCleaningUp, startedSet } from "./started.ts";

const CLI = new URL("../cluster.ts", import.meta.url).pathname;
const VERBS = ["create", "status", "shutdown", "resume", "delete"] as const;
type Verb = (typeof VERBS)[number];

const CLUSTER_PORTS = { first: 40000, last: 44999 };
/** Client ports; each node's cluster-bus port is `busOffset` above its client port. */
const REDIS_PORTS = { first: 45000, last: 45999, busOffset: 1000 };
/** Redis Cluster refuses fewer than three masters. */
const REDIS_MIN_NODES = 3;
const CLI_TIMEOUT_MS = 60_000;
/**
 * NOTE: 40000-46999 lies in Linux's default ephemeral range (32768-60999), so any port there
 * can be held for a minute by the TIME_WAIT of some outgoing connection (ours or anyone's):
 * with a few thousand of those, a block of 66 ports is rarely all free. So blocks are picked
 * among those whose ports /proc/net/tcp shows unused, and if one is taken in between, the CLI
 * rightly answers PORT_IN_USE before starting anything and the bench tries again (create on
 * another block, resume after a pause), timing only the attempt that ran, and reports the count.
 */
const PORT_RETRIES = 5;
const RESUME_RETRY_PAUSE_MS = 500;
const REDIS_TIMEOUT_MS = 60_000;
/** How often the peer's readiness is polled: small, so the peer is not slowed by our polling. */
const POLL_MS = 5;

interface Spread {
  median: number;
  min: number;
  max: number;
}

interface PeerFigures {
  nodes: number;
  /** Spawn of the first redis-server until every node reports cluster_state:ok. */
  create: Spread;
  /** Of which: until every node accepts connections. */
  listening: Spread;
  /** Of which: the `redis-cli --cluster create` process. */
  clusterCreate: Spread;
  /** SIGTERM to every node until all have exited. */
  stop: Spread;
  rssMiB: Spread;
}

interface SizeFigures {
  spus: number;
  runs: number;
  ms: Record<Verb, Spread>;
  rssMiB: { sc: Spread; spu: Spread };
  /** RssAnon: the memory that is the process's own. */
  anonMiB: { sc: Spread; spu: Spread };
  peer: PeerFigures | { skipped: string };
  /** Attempts that met PORT_IN_USE on a port outside our control and were run again. */
  portRetries: number;
}

/** What this run started and has not yet cleaned up: commands in flight, cluster homes, Redis nodes and their dirs. */
const started = { ...startedSet(), redis: new Map<number, ProcessRecord>() };

function parseOptions() {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "7" },
      spus: { type: "string", default: "1,3,8,32" },
      "peer-max": { type: "string", default: "8" },
    },
    strict: true,
  });
  const runs = Number(values.runs);
  const sizes = values.spus.split(",").map(Number);
  const peerMax = Number(values["peer-max"]);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) {
    throw new Error(`--spus must be a comma-separated list of 1..64, got '${values.spus}'`);
  }
  return { runs, sizes, peerMax };
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

/** Least-squares slope of y over x: the cost of one more SPU. */
function slope(xs: number[], ys: number[]): number {
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  let covariance = 0;
  let variance = 0;
  xs.forEach((x, i) => {
    covariance += (x - meanX) * (ys[i]! - meanY);
    variance += (x - meanX) ** 2;
  });
  return variance === 0 ? Number.NaN : round(covariance / variance);
}

/** A failed command: its argv, exit code and output, and the `--json` error code when it printed one. */
class CommandError extends Error {
  readonly code: string | undefined;

  constructor(argv: string[], exitCode: number, stdout: string, stderr: string) {
    super(`'${argv.join(" ")}' exited ${exitCode}:\n${stdout}${stderr}`);
    this.code = parseErrorCode(stdout);
  }
}

function parseErrorCode(stdout: string): string | undefined {
  try {
    return JSON.parse(stdout)?.error?.code;
  } catch {
    return undefined;
  }
}

/** Runs `argv` to its end and returns its wall time; a non-zero exit (or a hang) throws a CommandError. */
async function timeProcess(argv: string[]): Promise<number> {
  const begin = performance.now();
  const child = Bun.spawn(argv, { env: process.env, stdout: "pipe", stderr: "pipe" });
  started.commands.add(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
  const [exitCode, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const elapsed = performance.now() - begin;
  clearTimeout(timer);
  started.commands.delete(child);
  if (exitCode !== 0) throw new CommandError(argv, exitCode, stdout, stderr);
  return elapsed;
}

/** A memory figure of `pid` in MiB from /proc/<pid>/status (`VmHWM`, `RssAnon`), or NaN when it cannot be read. */
function memoryMiB(pid: number, key: "VmHWM" | "RssAnon"): number {
  try {
    const match = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

interface RssSample {
  sc: number;
  spu: number;
  scAnon: number;
  spuAnon: number;
}

/** The memory of the SC and of the first SPU the cluster in `home` recorded. */
function sampleClusterRss(home: string): RssSample {
  const { processes } = readState(clusterPaths(home, "local"));
  const sc = processes.find((entry) => entry.role === "sc")?.pid;
  const spu = processes.find((entry) => entry.role === "spu")?.pid;
  const read = (pid: number | undefined, key: "VmHWM" | "RssAnon") => (pid === undefined ? Number.NaN : memoryMiB(pid, key));
  return { sc: read(sc, "VmHWM"), spu: read(spu, "VmHWM"), scAnon: read(sc, "RssAnon"), spuAnon: read(spu, "RssAnon") };
}

/** Local ports of every IPv4 and IPv6 TCP socket on this machine, in any state. */
function tcpPortsInUse(): Set<number> {
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) ports.add(Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16));
    }
  }
  return ports;
}

/** The ports a cluster or a Redis Cluster uses from its first port: `span` above it at most. */
interface PortPlan {
  span: number;
  ports(first: number): number[];
}

/** Fluvio's layout, as lib/cluster/spec.ts resolves it: SC B+3 and B+4, SPU i B+10+10i and B+11+10i. */
function clusterPlan(spus: number): PortPlan {
  return {
    span: 11 + 10 * (spus - 1),
    ports: (base) => [base + 3, base + 4, ...Array.from({ length: spus }, (_, i) => [base + 10 + 10 * i, base + 11 + 10 * i]).flat()],
  };
}

/** Client ports `first` and up, each with its cluster-bus port `busOffset` above it. */
function redisPlan(nodes: number): PortPlan {
  return {
    span: nodes - 1,
    ports: (first) => Array.from({ length: nodes }, (_, i) => [first + i, first + i + REDIS_PORTS.busOffset]).flat(),
  };
}

/**
 * Hands out, in turn through `range`, the next first port whose plan's ports are all unused
 * right now; consecutive calls move on, so a run does not meet the TIME_WAITs of the one before.
 */
function createPortRotation(range: { first: number; last: number }): (plan: PortPlan) => number {
  let next = range.first;
  return (plan) => {
    const inUse = tcpPortsInUse();
    for (let tried = 0; tried <= range.last - range.first; tried++) {
      if (next + plan.span > range.last) next = range.first;
      const first = next++;
      if (plan.ports(first).some((port) => inUse.has(port))) continue;
      next = first + plan.span + 1;
      return first;
    }
    throw new Error(`no block of ports in ${range.first}-${range.last} is free`);
  };
}

/** Times `attempt`, trying again after `retry` while the CLI answers PORT_IN_USE; counts the retries in `retries`. */
async function timeWithPortRetries(attempt: () => Promise<number>, retry: () => Promise<void>, retries: { count: number }) {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof CommandError) || error.code !== "PORT_IN_USE" || tries > PORT_RETRIES) throw error;
      retries.count++;
      await retry();
    }
  }
}

/**
 * One whole lifecycle of our cluster; returns each verb's time and the RSS samples. Every
 * verb runs with `--json`, the scripting interface, so that a failure names its error code.
 */
async function runLifecycle(spus: number, nextPortBase: () => number, retries: { count: number }) {
  const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
  started.homes.add(home);
  // Fluvio's config file in the temp home (the verbs inherit this environment): a bench never writes a profile into the real one.
  process.env.FLV_PROFILE_PATH = join(home, ".fluvio", "config");
  const cli = (verb: Verb, ...extra: string[]) => [process.execPath, CLI, verb, "--home", home, "--json", ...extra];
  const ms = {} as Record<Verb, number>;
  let portBase = nextPortBase();
  ms.create = await timeWithPortRetries(
    () => timeProcess(cli("create", "--spus", String(spus), "--port-base", String(portBase))),
    async () => {
      portBase = nextPortBase();
    },
    retries,
  );
  ms.status = await timeProcess(cli("status"));
  const rss = sampleClusterRss(home);
  ms.shutdown = await timeProcess(cli("shutdown"));
  ms.resume = await timeWithPortRetries(() => timeProcess(cli("resume")), () => Bun.sleep(RESUME_RETRY_PAUSE_MS), retries);
  const rssAfterResume = sampleClusterRss(home);
  ms.delete = await timeProcess(cli("delete"));
  removeHome(started, home);
  return { ms, rss: [rss, rssAfterResume] };
}

/** A Redis node that exited before it listened: most likely its port was taken (see PORT_RETRIES). */
class RedisExitedError extends Error {}

/** Resolves once the node of `record` accepts TCP connections on 127.0.0.1:`port`. */
async function waitForListener(port: number, record: ProcessRecord, deadline: number): Promise<void> {
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (accepted) return;
    if (!isAlive(record)) throw new RedisExitedError(`redis-server on port ${port} exited before it listened`);
    if (performance.now() > deadline) throw new Error(`redis-server on port ${port} did not listen in time`);
    await Bun.sleep(POLL_MS);
  }
}

async function readOutput(argv: string[]): Promise<string> {
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "ignore" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return text;
}

/** Polls every node with `redis-cli cluster info` until all of them report cluster_state:ok. */
async function waitForClusterOk(ports: number[], deadline: number): Promise<void> {
  let pending = ports;
  while (pending.length > 0) {
    const answers = await Promise.all(pending.map((port) => readOutput(["redis-cli", "-p", String(port), "cluster", "info"])));
    pending = pending.filter((_, i) => !answers[i]!.includes("cluster_state:ok"));
    if (pending.length === 0) return;
    if (performance.now() > deadline) throw new Error(`Redis nodes ${pending.join(", ")} did not reach cluster_state:ok in time`);
    await Bun.sleep(POLL_MS);
  }
}

/**
 * One Redis Cluster of `nodes` masters from nothing to cluster_state:ok on every node, then
 * stopped; its client ports are `firstPort` and up.
 */
async function runPeer(nodes: number, firstPort: number) {
  const dir = mkdtempSync(join(tmpdir(), "cluster-bench-redis-"));
  started.dirs.add(dir);
  const ports = Array.from({ length: nodes }, (_, i) => firstPort + i);
  const begin = performance.now();
  const deadline = begin + REDIS_TIMEOUT_MS;
  const records = ports.map((port) => startRedisNode(port, join(dir, String(port))));
  try {
    await Promise.all(ports.map((port, i) => waitForListener(port, records[i]!, deadline)));
  } catch (error) {
    await stopRedisNodes(records);
    throw error;
  }
  const listening = performance.now() - begin;
  const createBegin = performance.now();
  await timeProcess([
    "redis-cli",
    "--cluster",
    "create",
    ...ports.map((port) => `127.0.0.1:${port}`),
    "--cluster-replicas",
    "0",
    "--cluster-yes",
  ]);
  const clusterCreate = performance.now() - createBegin;
  await waitForClusterOk(ports, deadline);
  const create = performance.now() - begin;
  const rss = memoryMiB(records[0]!.pid, "VmHWM");
  const stopBegin = performance.now();
  await stopRedisNodes(records);
  const stop = performance.now() - stopBegin;
  rmSync(dir, { recursive: true, force: true });
  started.dirs.delete(dir);
  return { create, listening, clusterCreate, stop, rss };
}

async function runPeerWithRetries(nodes: number, ports: PortRotations, retries: { count: number }) {
  for (let tries = 1; ; tries++) {
    try {
      return await runPeer(nodes, ports.redis(redisPlan(nodes)));
    } catch (error) {
      if (!(error instanceof RedisExitedError) || tries > PORT_RETRIES) throw error;
      retries.count++;
    }
  }
}

function startRedisNode(port: number, dir: string): ProcessRecord {
  mkdirSync(dir, { recursive: true });
  const argv = [
    "redis-server",
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--cluster-enabled", "yes",
    "--cluster-port", String(port + REDIS_PORTS.busOffset),
    "--cluster-config-file", join(dir, "nodes.conf"),
    "--dir", dir,
    "--save", "",
    "--appendonly", "no",
    "--logfile", join(dir, "redis.log"),
  ];
  const child = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
  const record = { pid: child.pid, startTime: readStartTime(child.pid), argv };
  started.redis.set(child.pid, record);
  return record;
}

/** SIGTERM (Redis shuts down without saving, as configured), then SIGKILL if one lingers. */
async function stopRedisNodes(records: ProcessRecord[]): Promise<void> {
  for (const record of records) signalProcess(record, "SIGTERM");
  const lingering = await waitForExit(records, 5_000);
  for (const record of lingering) signalProcess(record, "SIGKILL");
  await waitForExit(lingering, 2_000);
  for (const record of records) started.redis.delete(record.pid);
}

function hasRedis(): boolean {
  return Bun.which("redis-server") !== null && Bun.which("redis-cli") !== null;
}

interface PortRotations {
  cluster: (plan: PortPlan) => number;
  redis: (plan: PortPlan) => number;
}

async function measureSize(spus: number, runs: number, peer: { enabled: boolean; reason: string }, ports: PortRotations) {
  const ms = Object.fromEntries(VERBS.map((verb) => [verb, [] as number[]])) as Record<Verb, number[]>;
  const rss = { sc: [] as number[], spu: [] as number[], scAnon: [] as number[], spuAnon: [] as number[] };
  const peerRuns: Awaited<ReturnType<typeof runPeer>>[] = [];
  const nodes = Math.max(spus, REDIS_MIN_NODES);
  const retries = { count: 0 };
  for (let run = 0; run < runs; run++) {
    // Ours and the peer alternate, so a change in the machine's load falls on both.
    const result = await runLifecycle(spus, () => ports.cluster(clusterPlan(spus)), retries);
    for (const verb of VERBS) ms[verb].push(result.ms[verb]);
    for (const sample of result.rss) {
      for (const key of ["sc", "spu", "scAnon", "spuAnon"] as const) rss[key].push(sample[key]);
    }
    if (peer.enabled) peerRuns.push(await runPeerWithRetries(nodes, ports, retries));
    process.stderr.write(".");
  }
  const figures: SizeFigures = {
    spus,
    runs,
    ms: Object.fromEntries(VERBS.map((verb) => [verb, spread(ms[verb])])) as Record<Verb, Spread>,
    rssMiB: { sc: spread(rss.sc), spu: spread(rss.spu) },
    anonMiB: { sc: spread(rss.scAnon), spu: spread(rss.spuAnon) },
    peer: peer.enabled
      ? {
          nodes,
          create: spread(peerRuns.map((run) => run.create)),
          listening: spread(peerRuns.map((run) => run.listening)),
          clusterCreate: spread(peerRuns.map((run) => run.clusterCreate)),
          stop: spread(peerRuns.map((run) => run.stop)),
          rssMiB: spread(peerRuns.map((run) => run.rss)),
        }
      : { skipped: peer.reason },
    portRetries: retries.count,
  };
  return figures;
}

function formatSpread(value: Spread, unit = ""): string {
  return `${value.median}${unit} (${value.min}..${value.max})`;
}

function formatTable(sizes: SizeFigures[]): string {
  const header = ["SPUs", ...VERBS.map((verb) => `${verb} ms`), "SC VmHWM MiB", "SPU VmHWM MiB", "Redis nodes", "Redis create ms", "create/Redis"];
  const rows = sizes.map((size) => {
    const peer = "skipped" in size.peer ? undefined : size.peer;
    return [
      String(size.spus),
      ...VERBS.map((verb) => formatSpread(size.ms[verb])),
      formatSpread(size.rssMiB.sc),
      formatSpread(size.rssMiB.spu),
      peer ? String(peer.nodes) : "-",
      peer ? formatSpread(peer.create) : "skipped",
      peer ? (size.ms.create.median / peer.create.median).toFixed(3) : "-",
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function formatNotes(sizes: SizeFigures[], runs: number): string[] {
  const notes = [`median (min..max) over ${runs} run(s) each, after one warm-up lifecycle; times are whole CLI processes`];
  for (const size of sizes) {
    notes.push(`${size.spus} SPU(s): private memory (RssAnon) SC ${formatSpread(size.anonMiB.sc)} MiB, SPU ${formatSpread(size.anonMiB.spu)} MiB`);
    if (size.portRetries > 0) notes.push(`${size.spus} SPU(s): ${size.portRetries} attempt(s) met PORT_IN_USE (an ephemeral port) and were run again`);
  }
  notes.push("Redis: 'redis-cli --cluster create' waits for the nodes to join in whole-second sleeps, so its times come in steps of about 1 s");
  for (const size of sizes) {
    if ("skipped" in size.peer) {
      notes.push(`${size.spus} SPU(s): Redis peer skipped: ${size.peer.skipped}`);
      continue;
    }
    const peer = size.peer;
    if (peer.nodes !== size.spus) notes.push(`${size.spus} SPU(s): Redis peer has ${peer.nodes} nodes (Redis Cluster needs at least ${REDIS_MIN_NODES} masters)`);
    notes.push(
      `${size.spus} SPU(s): Redis ${peer.nodes} nodes: listening ${formatSpread(peer.listening)} ms, ` +
        `'redis-cli --cluster create' ${formatSpread(peer.clusterCreate)} ms, stop ${formatSpread(peer.stop)} ms, ` +
        `node RSS ${formatSpread(peer.rssMiB)} MiB`,
    );
  }
  return notes;
}

/** Stops and removes whatever this run started and still holds; safe to call twice. */
function cleanUp(): void {
  for (const record of started.redis.values()) signalProcess(record, "SIGKILL");
  started.redis.clear();
  cleanUpStarted(started);
}

async function main(): Promise<void> {
  const { runs, sizes, peerMax } = parseOptions();
  const redisInstalled = hasRedis();
  const ports: PortRotations = { cluster: createPortRotation(CLUSTER_PORTS), redis: createPortRotation(REDIS_PORTS) };
  const loadBefore = loadavg();
  process.stderr.write(`load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}; warming up`);
  await runLifecycle(1, () => ports.cluster(clusterPlan(1)), { count: 0 });

  const results: SizeFigures[] = [];
  for (const spus of sizes) {
    process.stderr.write(`\n${spus} SPU(s) `);
    const peer = !redisInstalled
      ? { enabled: false, reason: "redis-server or redis-cli is not installed (Debian: apt-get install redis-server redis-tools)" }
      : spus > peerMax
        ? { enabled: false, reason: `${spus} SPUs is above --peer-max ${peerMax}: a Redis Cluster that size takes many seconds a run; pass --peer-max ${spus} to include it` }
        : { enabled: true, reason: "" };
    results.push(await measureSize(spus, runs, peer, ports));
  }
  process.stderr.write("\n");
  const loadAfter = loadavg();

  const createSlope = slope(
    results.map((size) => size.spus),
    results.map((size) => size.ms.create.median),
  );
  console.log(formatTable(results));
  console.log();
  for (const note of formatNotes(results, runs)) console.log(note);
  console.log(`create slope: ${createSlope} ms per SPU (least squares over ${sizes.join(", ")} SPUs)`);
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`);
  console.log(
    JSON.stringify({
      bench: "lifecycle",
      bun: Bun.version,
      runs,
      loadavg: { before: loadBefore, after: loadAfter },
      createSlopeMsPerSpu: createSlope,
      sizes: results,
    }),
  );
}

await runCleaningUp(main, cleanUp);
