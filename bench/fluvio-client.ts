/**
 * The real Fluvio client's throughput on a cluster the CLI created, beside the CLI's own: a
 * real 3-SPU cluster in a temp home, one topic per side (1 partition, replication 3, acks=all),
 * the same records of 100 bytes produced and then read back from the beginning, by
 * - the real client (tests/fluvio-client.ts: Fluvio's Rust client through its Node binding):
 *   `sendAll` in chunks then `flush`; read back with `createStream` (a promise per record) and
 *   with `stream` (a callback per record); its figures include connecting to the SC;
 * - `cluster produce` from a file on stdin and `cluster consume -B -d` (as bench/produce-consume.ts
 *   takes them); its figures include the CLI's start-up.
 * Prints records/s and MB/s for each, the ratio real client / CLI, the CPU seconds each reader
 * and the SPUs took (so a reader waiting on the cluster tells from a reader the cluster waits
 * on), and last the real client's stream consume against `cluster consume` beside the target
 * (at least 0.9). Every record read is checked, so a lost or reordered record stops the bench.
 *
 * Run with `bun bench/fluvio-client.ts [records] [chunk]` (default 200,000 records, chunks of 10,000).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadFluvioClient } from "../tests/fluvio-client.ts";
import { childCpuSeconds, spuCpuSeconds } from "./cpu.ts";

const RECORDS = Number(process.argv[2] ?? 200_000);
const CHUNK = Number(process.argv[3] ?? 10_000);
const VALUE_BYTES = 100;
const SPUS = 3;
const REPLICATION = 3;
/** A port block of the data tests' range (24000-31900) that tests and the other benches leave alone. */
const PORT_BASE = 31_200;
const CLI = join(import.meta.dir, "..", "cluster.ts");

const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
// Fluvio's config file in the temp home: the bench never writes a profile into the real one.
const env = { ...process.env, CLUSTER_HOME: home, FLV_PROFILE_PATH: join(home, ".fluvio", "config") };

/** CPU seconds a reader took and the SPUs took meanwhile. */
interface Cpu {
  reader: number;
  spus: number;
}

/** Runs `cluster ...args` (stdin from `stdinFile`), timing it; returns stdout's byte count. */
async function run(args: string[], stdinFile?: string): Promise<{ stdout: number; millis: number; cpu: Cpu }> {
  const spusBefore = spuCpuSeconds(home);
  const started = performance.now();
  const child = Bun.spawn([process.execPath, CLI, ...args], { env, stdin: stdinFile ? Bun.file(stdinFile) : "ignore", stdout: "pipe", stderr: "pipe" });
  let stdout = 0;
  for await (const chunk of child.stdout) stdout += chunk.byteLength;
  const code = await child.exited;
  const millis = performance.now() - started;
  if (code !== 0) throw new Error(`cluster ${args.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
  const reader = childCpuSeconds(child);
  return { stdout, millis, cpu: { reader, spus: spuCpuSeconds(home) - spusBefore } };
}

/** Times `work` in this process, with this process's CPU (every thread of the real client's native module) and the SPUs'. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; millis: number; cpu: Cpu }> {
  const spusBefore = spuCpuSeconds(home);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const millis = performance.now() - started;
  const { user, system } = process.cpuUsage(cpuBefore);
  return { value, millis, cpu: { reader: (user + system) / 1e6, spus: spuCpuSeconds(home) - spusBefore } };
}

function cpuText(cpu: Cpu): string {
  return `reader ${cpu.reader.toFixed(2)} s, SPUs ${cpu.spus.toFixed(2)} s`;
}

const perSecond = (millis: number) => (RECORDS / millis) * 1000;

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join("  ");
}

function figure(millis: number): string {
  const rate = perSecond(millis);
  return `${Math.round(rate).toLocaleString("en-US")} rec/s ${((rate * VALUE_BYTES) / 1e6).toFixed(1).padStart(5)} MB/s ${millis.toFixed(0).padStart(6)} ms`;
}

try {
  // Each value names its index, so a lost or reordered record changes what is read.
  const lines = Array.from({ length: RECORDS }, (_, i) => String(i).padStart(10, "0").padEnd(VALUE_BYTES, "x"));
  const input = join(home, "input.txt");
  writeFileSync(input, `${lines.join("\n")}\n`);
  await run(["create", "--spus", String(SPUS), "--port-base", String(PORT_BASE)]);
  for (const topic of ["bench-client", "bench-cli"]) await run(["topic", "create", topic, "--replication", String(REPLICATION)]);

  const native = loadFluvioClient();
  const produced = await timed(async () => {
    const client = await native.connect(`127.0.0.1:${PORT_BASE + 3}`);
    const producer = await client.topicProducer("bench-client");
    for (let start = 0; start < RECORDS; start += CHUNK) {
      // NOTE: a typed array, not a bare ArrayBuffer: the native module refuses the latter under Bun.
      await producer.sendAll(lines.slice(start, start + CHUNK).map((line) => ["", Buffer.from(line)]));
    }
    await producer.flush();
    return client;
  });
  const expectAt = (index: number, value: string | undefined) => {
    if (value !== lines[index]) throw new Error(`the real client read ${JSON.stringify(value)} at offset ${index}, expected ${JSON.stringify(lines[index])}`);
  };
  const consumed = await timed(async () => {
    const client = await native.connect(`127.0.0.1:${PORT_BASE + 3}`);
    const stream = await (await client.partitionConsumer("bench-client", 0)).createStream({ index: 0, from: "beginning" });
    // Exactly RECORDS reads: one more would wait for a record that never comes.
    for (let index = 0; index < RECORDS; index++) expectAt(index, (await stream.next()).value?.valueString());
  });
  // The binding's other consumer: a callback per record, no promise per record. It runs until
  // its socket closes (the cluster's delete below); a stream error would only reach the client's log.
  const streamed = await timed(async () => {
    const client = await native.connect(`127.0.0.1:${PORT_BASE + 3}`);
    let index = 0;
    let failure: Error | undefined;
    const { promise: all, resolve, reject } = Promise.withResolvers<void>();
    await (await client.partitionConsumer("bench-client", 0)).stream({ index: 0, from: "beginning" }, (record) => {
      if (index >= RECORDS || failure) return;
      try {
        expectAt(index++, record.valueString());
      } catch (error) {
        failure = error as Error;
        reject(failure);
      }
      if (index === RECORDS) resolve();
    });
    await all;
  });

  const cliProduce = await run(["produce", "bench-cli"], input);
  const cliConsume = await run(["consume", "bench-cli", "-B", "-d"]);
  if (cliConsume.stdout !== RECORDS * (VALUE_BYTES + 1)) throw new Error(`cluster consume printed ${cliConsume.stdout} bytes, expected ${RECORDS * (VALUE_BYTES + 1)}`);

  console.log(`${RECORDS.toLocaleString("en-US")} records of ${VALUE_BYTES} bytes, 1 partition, replication ${REPLICATION}, ${SPUS} SPUs, acks=all; real client sendAll chunks of ${CHUNK.toLocaleString("en-US")}`);
  const widths = [26, 38, 38, 13];
  const ratio = (client: number, cli: number) => (perSecond(client) / perSecond(cli)).toFixed(2);
  console.log(row(["", "real Fluvio client", "cluster produce / consume", "client / CLI"], widths));
  console.log(row(["produce (sendAll, flush)", figure(produced.millis), figure(cliProduce.millis), ratio(produced.millis, cliProduce.millis)], widths));
  console.log(row(["consume (createStream)", figure(consumed.millis), figure(cliConsume.millis), ratio(consumed.millis, cliConsume.millis)], widths));
  console.log(row(["consume (stream callback)", figure(streamed.millis), figure(cliConsume.millis), ratio(streamed.millis, cliConsume.millis)], widths));
  console.log(`CPU: real client createStream ${cpuText(consumed.cpu)}; stream callback ${cpuText(streamed.cpu)}; cluster consume ${cpuText(cliConsume.cpu)}`);
  const best = Math.min(consumed.millis, streamed.millis);
  const streamRatio = perSecond(best) / perSecond(cliConsume.millis);
  console.log(
    `real client's stream consume / cluster consume: ${streamRatio.toFixed(2)} (the faster of its two consumers; target at least 0.90: ${streamRatio >= 0.9 ? "met" : "not met"})`,
  );
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await run(["delete"]).catch((error) => console.error(error.message));
  rmSync(home, { recursive: true, force: true });
}
// NOTE: a callback stream keeps the process alive after its socket closed (the native module
// never lets go of the callback), so this script ends itself.
process.exit();
