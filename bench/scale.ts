/**
 * The SC at scale: a real 3-SPU cluster in a temp home, one topic of 1,000 partitions at
 * replication 3, then one SPU killed with SIGKILL (by the pid state.yaml records) and the
 * cluster resumed. Prints the time until every partition has an online leader and its full
 * in-sync set, the SC's peak RSS (VmHWM), the SC's metadata writes (files renamed into
 * metadata/, and the commits the SC logs), every `cluster status --json` latency seen
 * throughout (one run every STATUS_EVERY_MS), and whether any SPU was dropped for silence.
 *
 * Then the same again with WATCHERS real Fluvio clients connected (@fluvio/client 0.14.9, the
 * Rust client's Node binding, tests/fluvio-client.ts: each `connect` watches SPUs, partitions
 * and topics), and CREATES topic creates timed as `cluster topic create` makes them after its
 * start-up (lib/fluvio/admin.ts createTopic: a Create, then a List of the partitions), with p50 and p99.
 *
 * Run inside its own network namespace, as the tests are:
 *   unshare -n sh -c 'ip link set lo up && bun bench/scale.ts [--partitions 1000] [--watchers 300] [--creates 30]'
 * The figures go to stdout. The real client logs each of its watches that `delete` closes to
 * stderr (one line each, 900 in all), so `2>/dev/null` keeps the output readable.
 */
import { mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { adminTarget, createTopic, listPartitions, type AdminTarget, type PartitionView } from "../lib/fluvio/admin.ts";
import { clusterPaths, logFileOf } from "../lib/cluster/home.ts";
import { readSavedSpec, readState } from "../lib/cluster/state.ts";
import { loadFluvioClient, type FluvioClient } from "../tests/fluvio-client.ts";

const { values: flags } = parseArgs({
  options: {
    partitions: { type: "string", default: "1000" },
    replication: { type: "string", default: "3" },
    watchers: { type: "string", default: "300" },
    creates: { type: "string", default: "30" },
    "limit-s": { type: "string", default: "60" },
  },
});
const PARTITIONS = Number(flags.partitions);
const REPLICATION = Number(flags.replication);
const WATCHERS = Number(flags.watchers);
const CREATES = Number(flags.creates);
/** A phase that has not converged after this long is reported as failed, and the bench stops. */
const LIMIT_MS = Number(flags["limit-s"]) * 1000;
const SPUS = 3;
const PORT_BASE = 31_000;
const CLI = join(import.meta.dir, "..", "cluster.ts");
const STATUS_EVERY_MS = 250;
const POLL_MS = 20;

const home = mkdtempSync(join(tmpdir(), "cluster-bench-scale-"));
// Fluvio's config file in the temp home: the bench never writes a profile into the real one.
const env = { ...process.env, CLUSTER_HOME: home, FLV_PROFILE_PATH: join(home, ".fluvio", "config") };
const paths = clusterPaths(home, "local");

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string; millis: number }> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, CLI, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr, millis: performance.now() - started };
}

async function mustRun(args: string[]): Promise<number> {
  const result = await run(args);
  if (result.code !== 0) throw new Error(`cluster ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result.millis;
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** VmRSS and VmHWM of `pid` in MiB, or undefined once it is gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) / 1024;
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return undefined;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

/** `cluster status --json` run back to back (one start every STATUS_EVERY_MS at most), each latency kept. */
class StatusProbe {
  latencies: number[] = [];
  failures: string[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor() {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const started = performance.now();
      const result = await run(["status", "--json"]);
      this.latencies.push(result.millis);
      let phase = "";
      try {
        phase = JSON.parse(result.stdout).phase;
      } catch {
        // Recorded below as a failure.
      }
      // 0 running, 1 degraded (an SPU killed): both are answers; anything else is not.
      if ((result.code !== 0 && result.code !== 1) || !phase) this.failures.push(`exit ${result.code}: ${result.stderr.trim().split("\n").at(-1)}`);
      await Bun.sleep(Math.max(0, STATUS_EVERY_MS - (performance.now() - started)));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  summary(): string {
    const { latencies } = this;
    return (
      `status: ${latencies.length} runs, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, max ${ms(Math.max(...latencies))}, ` +
      `over 1 s: ${latencies.filter((value) => value > 1000).length}, failed: ${this.failures.length}` +
      (this.failures.length > 0 ? ` (first: ${this.failures[0]})` : "")
    );
  }
}

/** Peak RSS of the SC, sampled; VmHWM is the kernel's own peak, so sampling only adds the current RSS. */
class MemoryProbe {
  peakRss = 0;
  hwm = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number) {
    this.#timer = setInterval(() => this.sample(), 100);
  }

  sample(): void {
    const memory = memoryOf(this.pid);
    if (!memory) return;
    this.peakRss = Math.max(this.peakRss, memory.rss);
    this.hwm = Math.max(this.hwm, memory.hwm);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}

/** Counts the object files the SC renames into metadata/ (each one atomic write). */
class MetadataWrites {
  files = 0;
  readonly #watcher;

  constructor(dir: string) {
    this.#watcher = watch(dir, { recursive: true }, (event, name) => {
      if (event === "rename" && name?.endsWith(".yaml")) this.files++;
    });
  }

  stop(): void {
    this.#watcher.close();
  }
}

/** What the SC logged since byte `from` of its log: silence drops, offline SPUs, metadata commits. */
function scLogSince(from: number): { silenceDrops: number; offline: number; commits: number; isrChanges: number; end: number } {
  const text = readFileSync(logFileOf(paths, "sc"), "utf8");
  const lines = text.slice(from).split("\n");
  const count = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).length;
  return {
    silenceDrops: count(/SPU \d+ sent nothing for/),
    offline: count(/SPU \d+ offline/),
    commits: count(/metadata: committed/),
    isrChanges: count(/in-sync set of .* is now/),
    end: text.length,
  };
}

function spuAsks(): number {
  let asks = 0;
  for (const id of [5001, 5002, 5003]) {
    try {
      asks += readFileSync(logFileOf(paths, `spu-${id}`), "utf8").split("\n").filter((line) => / asks the SC for in-sync set/.test(line)).length;
    } catch {
      // No log yet.
    }
  }
  return asks;
}

const complete = (partitions: PartitionView[], count: number) =>
  partitions.length >= count && partitions.every((partition) => partition.online && partition.isr.length === partition.replicas.length);
const led = (partitions: PartitionView[], count: number) => partitions.length >= count && partitions.every((partition) => partition.online);

/** Polls the SC's partitions until `done`; the milliseconds it took from `since`, or throws after LIMIT_MS. */
async function until(what: string, admin: AdminTarget, count: number, done: (partitions: PartitionView[], count: number) => boolean, since: number): Promise<number> {
  let last: PartitionView[] = [];
  let lastError = "";
  while (performance.now() - since < LIMIT_MS) {
    try {
      last = await listPartitions(admin);
      if (done(last, count)) return performance.now() - since;
    } catch (error) {
      lastError = (error as Error).message;
      admin.connection = undefined;
    }
    await Bun.sleep(POLL_MS);
  }
  const online = last.filter((partition) => partition.online).length;
  const full = last.filter((partition) => partition.online && partition.isr.length === partition.replicas.length).length;
  throw new Error(`gave up waiting for ${what} after ${LIMIT_MS / 1000} s: ${last.length} partitions listed, ${online} led, ${full} with a full in-sync set${lastError ? `; last error: ${lastError}` : ""}`);
}

/** One round: SPU `victim` killed with SIGKILL, then `resume`; prints what it took. */
async function killAndResume(admin: AdminTarget, count: number, victim: number, memory: MemoryProbe): Promise<void> {
  const entry = readState(paths).processes.find((process) => process.role === "spu" && process.id === victim)!;
  const killedAt = performance.now();
  process.kill(entry.pid, "SIGKILL");
  const reled = await until("every partition led again", admin, count, led, killedAt);
  console.log(`  kill -9 of SPU ${victim}: every partition led again after ${ms(reled)} (SC RSS now ${memoryOf(memory.pid)?.rss.toFixed(1)} MiB)`);
  const resumedAt = performance.now();
  const resume = await mustRun(["resume"]);
  const full = await until("every in-sync set full again", admin, count, complete, resumedAt);
  console.log(`  resume took ${ms(resume)}; every partition led with its full in-sync set ${ms(full)} after resume began`);
}

async function scenario(label: string, admin: AdminTarget, scPid: number, body: (memory: MemoryProbe) => Promise<void>): Promise<void> {
  console.log(`${label} (load average ${loadAverage()})`);
  const logFrom = scLogSince(0).end;
  const asksBefore = spuAsks();
  const memory = new MemoryProbe(scPid);
  const writes = new MetadataWrites(paths.metadata);
  const status = new StatusProbe();
  try {
    await body(memory);
  } finally {
    await status.stop();
    memory.stop();
    writes.stop();
    const logged = scLogSince(logFrom);
    console.log(`  SC peak RSS: VmHWM ${memory.hwm.toFixed(1)} MiB (highest VmRSS sampled ${memory.peakRss.toFixed(1)} MiB)`);
    console.log(`  metadata: ${writes.files} object file(s) written, in ${logged.commits} commit(s) logged by the SC; ${logged.isrChanges} in-sync set change(s) logged`);
    console.log(`  SPUs dropped for silence: ${logged.silenceDrops}; SPU offline events: ${logged.offline}; in-sync set asks logged by SPUs: ${spuAsks() - asksBefore}`);
    console.log(`  ${status.summary()}`);
    console.log(`  load average after: ${loadAverage()}`);
  }
}

let clients: FluvioClient[] = [];
try {
  console.log(`bench/scale.ts: ${SPUS} SPUs, ${PARTITIONS} partitions at replication ${REPLICATION}, ${WATCHERS} watchers, ${CREATES} creates`);
  await mustRun(["create", "--spus", String(SPUS), "--port-base", String(PORT_BASE)]);
  const spec = readSavedSpec(paths)!;
  const admin = adminTarget(spec);
  const scPid = readState(paths).processes.find((process) => process.role === "sc")!.pid;
  console.log(`SC after create: VmRSS ${memoryOf(scPid)?.rss.toFixed(1)} MiB`);

  await scenario(`1. topic of ${PARTITIONS} partitions, kill -9 and resume`, admin, scPid, async (memory) => {
    const started = performance.now();
    const create = await mustRun(["topic", "create", "big", "--partitions", String(PARTITIONS), "--replication", String(REPLICATION)]);
    const full = await until("every partition of 'big' led with a full in-sync set", admin, PARTITIONS, complete, started);
    console.log(`  topic create took ${ms(create)}; every partition led with its full in-sync set after ${ms(full)}`);
    // A quiet spell, in which a storm would show and a starved session would drop.
    await Bun.sleep(5_000);
    await killAndResume(admin, PARTITIONS, 5003, memory);
  });

  await scenario(`2. the same with ${WATCHERS} watching Fluvio clients`, admin, scPid, async (memory) => {
    const fluvio = loadFluvioClient();
    const address = `${spec.host}:${spec.sc.publicPort}`;
    const connecting = performance.now();
    for (let index = 0; index < WATCHERS; index += 25) {
      const batch = Math.min(25, WATCHERS - index);
      clients.push(...(await Promise.all(Array.from({ length: batch }, () => fluvio.connect(address)))));
    }
    console.log(`  ${clients.length} clients connected (each watching SPUs, partitions and topics) in ${ms(performance.now() - connecting)}`);
    const creates: number[] = [];
    for (let index = 0; index < CREATES; index++) {
      const started = performance.now();
      await createTopic(admin, { name: `watched-${index}`, partitions: 1, replication: REPLICATION });
      creates.push(performance.now() - started);
    }
    console.log(`  topic create (Create + List of its partitions) with ${clients.length} watchers: p50 ${ms(percentile(creates, 50))}, p99 ${ms(percentile(creates, 99))}, max ${ms(Math.max(...creates))}`);
    const count = PARTITIONS + CREATES;
    await until("every partition led with a full in-sync set", admin, count, complete, performance.now());
    await killAndResume(admin, count, 5002, memory);
  });
} catch (error) {
  console.log(`FAILED: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  clients = [];
  const deleted = await run(["delete"]);
  if (deleted.code !== 0) console.error(`delete failed: ${deleted.stderr}`);
  rmSync(home, { recursive: true, force: true });
}
