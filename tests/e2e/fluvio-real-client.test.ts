/**
 * The real Fluvio client (tests/fluvio-client.ts: Fluvio's Rust client, unchanged) against
 * clusters the CLI created, end to end with real processes: admin, produce and consume on a
 * 3-SPU cluster at replication 3; the same records through `cluster consume` and the other way
 * through `cluster produce`; after shutdown and resume; a leader killed with SIGKILL mid-produce;
 * and the seed scenario. Processes are killed only by the pid their cluster's state.yaml records.
 *
 * How the native client behaves, and what these tests do about it:
 * - It has no close. Its sockets close when the cluster's processes stop (tests/setup.ts stops
 *   them after every test), and it prints ERROR lines to stderr then: harmless. A `next()` of a
 *   stream left pending keeps the process alive until its socket closes, so a stream is read
 *   for exactly the records it must hold (counted by the leader first), never once more.
 * - `send` and `sendAll` resolve once the records are queued; only `flush` waits for the SPUs'
 *   answers, so a record counts as acknowledged when a flush after its send resolved.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { ok, pollUntil, waitForStatus } from "../cluster-data.ts";
import { decodeList, loadFluvioClient, type FluvioClient, type FluvioTopicProducer, type ProducerItem } from "../fluvio-client.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(27000);
const SPU_IDS = [5001, 5002, 5003];
/**
 * Each test's limit. NOTE: given here, not left to tests/setup.ts: under Bun 1.4.5 a
 * `setDefaultTimeout` in a preload holds for the first test file of a run only, and the others
 * get the 5 s default.
 */
const TEST_TIMEOUT_MS = 60_000;
/** How long one record of a stream may take to arrive before the test fails instead of hanging. */
const RECORD_DEADLINE_MS = 20_000;

/** One record as sent and as it must come back: key and value bytes. */
interface KeyedRecord {
  key: Uint8Array | null;
  value: Uint8Array;
}

async function createCluster(): Promise<{ home: string; portBase: number }> {
  const home = tempHome();
  const portBase = nextPortBase();
  await ok(home, ["create", "--spus", "3", "--port-base", String(portBase)]);
  return { home, portBase };
}

/** Connects the real client to the SC endpoint `cluster status` names. */
async function connect(home: string): Promise<FluvioClient> {
  const { endpoint } = (await ok(home, ["status", "--json"])).json;
  return loadFluvioClient().connect(endpoint);
}

/**
 * `count` keyed records: 64 keys, so each key's records share a partition; values name their
 * index, with multi-byte UTF-8 and lengths from 9 to about 200 bytes, and no newline (so
 * `cluster consume` prints each on one line).
 */
function keyedRecords(count: number, prefix: string): KeyedRecord[] {
  const glyphs = ["a", "é", "日", "🙂"];
  return Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`${prefix}-key-${i % 64}`),
    value: Buffer.from(`${prefix} ${i} ${glyphs[i % 4]!.repeat(i % 47)}|`),
  }));
}

/** The real client's form of a record: the key as text, the value as bytes (a Buffer: see `ProducerItem`). */
function producerItems(records: readonly KeyedRecord[]): [ProducerItem, ProducerItem][] {
  return records.map((record) => [Buffer.from(record.key!).toString(), Buffer.from(record.value)]);
}

/** Sends `records` in chunks, then flushes: resolves once every one is acknowledged. */
async function produceAll(producer: FluvioTopicProducer, records: readonly KeyedRecord[], chunk = 1_000): Promise<void> {
  for (let start = 0; start < records.length; start += chunk) await producer.sendAll(producerItems(records.slice(start, start + chunk)));
  await producer.flush();
}

/** `promise`, or a rejection naming `what` after `ms`; the promise keeps a handler so a late rejection is not unhandled. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The last lines of each SPU's log in `home`, to show beside a stream that ended early. */
function spuLogTails(home: string): string {
  const paths = clusterPaths(home, "local");
  return readdirSync(paths.logs)
    .filter((file) => file.startsWith("spu-"))
    .sort()
    .map((file) => `${file}:\n${readFileSync(join(paths.logs, file), "utf8").trimEnd().split("\n").slice(-5).join("\n")}`)
    .join("\n");
}

/** The first `count` records of a partition of cluster 'local' in `home`, from the beginning, through the real client's stream. */
async function readPartition(client: FluvioClient, home: string, topic: string, partition: number, count: number): Promise<KeyedRecord[]> {
  const consumer = await client.partitionConsumer(topic, partition);
  const stream = await consumer.createStream({ index: 0, from: "beginning" });
  const records: KeyedRecord[] = [];
  while (records.length < count) {
    const item = await withDeadline(stream.next(), RECORD_DEADLINE_MS, `record ${records.length} of ${count} of '${topic}' partition ${partition}`);
    const record = item.value;
    if (item.done || !record) {
      throw new Error(`the stream of '${topic}' partition ${partition} ended after ${records.length} of ${count} records; the SPUs' logs end:\n${spuLogTails(home)}`);
    }
    const key = record.key();
    records.push({ key: record.hasKey() && key ? new Uint8Array(key) : null, value: new Uint8Array(record.value()) });
  }
  return records;
}

/**
 * The high watermark of each partition of `topic`, once the SC reports every partition online
 * with at least `atLeast` records in all (a flush resolves when the leaders have answered; the
 * SC hears of their offsets a moment later).
 */
async function highWatermarks(home: string, topic: string, atLeast: number): Promise<number[]> {
  const status = await waitForStatus(home, (status) => {
    const partitions = status.partitions.filter((partition: any) => partition.topic === topic);
    return partitions.length > 0 && partitions.every((partition: any) => partition.online) && partitions.reduce((sum: number, partition: any) => sum + (partition.highWatermark ?? 0), 0) >= atLeast;
  });
  return status.partitions.filter((partition: any) => partition.topic === topic).map((partition: any) => partition.highWatermark);
}

/** Every partition of `topic` read from the beginning by the real client, as many records as its high watermark. */
async function readTopic(client: FluvioClient, home: string, topic: string, expected: number): Promise<KeyedRecord[][]> {
  const counts = await highWatermarks(home, topic, expected);
  return Promise.all(counts.map((count, partition) => readPartition(client, home, topic, partition, count)));
}

function same(left: Uint8Array | null, right: Uint8Array | null): boolean {
  if (left === null || right === null) return left === right;
  return Buffer.from(left.buffer, left.byteOffset, left.byteLength).equals(right);
}

function shown(record: KeyedRecord | undefined): string {
  if (!record) return "nothing";
  return `key ${record.key === null ? "none" : JSON.stringify(Buffer.from(record.key).toString())}, value ${JSON.stringify(Buffer.from(record.value).toString())}`;
}

/**
 * Where the partitions read differ from the records sent, or null when they do not: each key's
 * records in one partition, and each partition exactly the sent records of its keys, in send
 * order, byte for byte (so all of them across the partitions, none twice).
 */
function firstDifference(read: KeyedRecord[][], sent: readonly KeyedRecord[]): string | null {
  const partitionOfKey = new Map<string, number>();
  for (const [partition, records] of read.entries()) {
    for (const record of records) {
      const key = Buffer.from(record.key ?? []).toString("hex");
      const seen = partitionOfKey.get(key);
      if (seen !== undefined && seen !== partition) return `key ${shown(record)} is in partitions ${seen} and ${partition}`;
      partitionOfKey.set(key, partition);
    }
  }
  for (const [partition, records] of read.entries()) {
    const expected = sent.filter((record) => partitionOfKey.get(Buffer.from(record.key ?? []).toString("hex")) === partition);
    for (let index = 0; index < Math.max(expected.length, records.length); index++) {
      const got = records[index];
      const wanted = expected[index];
      if (!got || !wanted || !same(got.key, wanted.key) || !same(got.value, wanted.value)) {
        return `partition ${partition} offset ${index}: read ${shown(got)}, sent ${shown(wanted)} (${records.length} read, ${expected.length} sent there)`;
      }
    }
  }
  const total = read.reduce((sum, records) => sum + records.length, 0);
  return total === sent.length ? null : `${total} records read in all, ${sent.length} sent`;
}

/**
 * Runs `cluster ...args`, which must succeed, and returns its stdout as bytes. NOTE: not
 * helpers.ts `cli`: zx 8.8.5 decodes each chunk of a child's output on its own, so a
 * multi-byte character split between two chunks comes back as U+FFFD.
 */
async function stdoutOf(home: string, args: string[]): Promise<Buffer> {
  const child = Bun.spawn([process.execPath, CLI, ...args], {
    env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: undefined },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).arrayBuffer(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`cluster ${args.join(" ")} exited ${exitCode}: ${stderr}`);
  return Buffer.from(stdout);
}

/** What `cluster consume TOPIC -B -d --partition P` prints, as bytes. */
function consumedBytes(home: string, topic: string, partition: number): Promise<Buffer> {
  return stdoutOf(home, ["consume", topic, "-B", "-d", "--partition", String(partition)]);
}

/** What `cluster consume` must print for `records`: each value, then a newline. */
function lines(records: readonly KeyedRecord[]): Buffer {
  return Buffer.concat(records.flatMap((record) => [Buffer.from(record.value), Buffer.from("\n")]));
}

function killRecorded(home: string, spu: number): void {
  const entry = readState(clusterPaths(home, "local")).processes.find((recorded) => recorded.id === spu);
  if (!entry) throw new Error(`state.yaml records no process for SPU ${spu}`);
  process.kill(entry.pid, "SIGKILL");
}

describe("the real Fluvio client on a cluster the CLI created", () => {
  test("connects, creates a topic of 3 partitions at replication 3, and lists it, its partitions as `cluster status` shows them, and SPUs 5001-5003 online", async () => {
    const { home, portBase } = await createCluster();
    const client = await connect(home);
    const admin = await client.admin();
    expect(await admin.createTopic("listed", { partitions: 3, replicationFactor: 3 })).toBe("listed");

    const status = await waitForStatus(home, (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online));
    expect(status.topics).toEqual([
      { name: "listed", partitions: 3, replication: 3, retentionSeconds: null, segmentSize: null, maxPartitionSize: null, compressionType: "any", system: false },
    ]);
    const topics = decodeList(await admin.listTopic()) as any[];
    expect(topics.map((topic) => topic.name)).toEqual(["listed"]);
    expect(topics[0].spec.replicas).toEqual({ computed: { partitions: 3, replicationFactor: 3, ignoreRackAssignment: false } });
    expect(topics[0].status.resolution).toBe("Provisioned");
    expect(topics[0].status.replicaMap).toEqual(Object.fromEntries(status.partitions.map((partition: any) => [String(partition.partition), partition.replicas])));

    // The SC's list follows the leaders' reports: poll until it says every partition is online.
    const partitions = await pollUntil(
      "the real client to list 3 online partitions",
      async () => decodeList(await admin.listPartitions()) as any[],
      (listed) => listed.length === 3 && listed.every((partition) => partition.status.resolution === "Online"),
    );
    const listed = partitions
      .map((partition) => ({
        name: partition.name,
        leader: partition.spec.leader,
        replicas: partition.spec.replicas,
        statusLeader: partition.status.leader.spu,
        inSync: partition.status.lsr,
        followers: partition.status.replicas.map((replica: { spu: number }) => replica.spu),
      }))
      .sort((left, right) => left.name.localeCompare(right.name));
    expect(listed).toEqual(
      status.partitions.map((partition: any) => ({
        name: `listed-${partition.partition}`,
        leader: partition.leader,
        replicas: partition.replicas,
        statusLeader: partition.leader,
        inSync: 3,
        followers: partition.isr.filter((id: number) => id !== partition.leader),
      })),
    );
    expect(new Set(listed.map((partition) => partition.leader))).toEqual(new Set(SPU_IDS));
    for (const partition of listed) expect([...partition.replicas].sort()).toEqual(SPU_IDS);

    const spus = (decodeList(await admin.listSpu()) as any[]).sort((left, right) => left.spec.spuId - right.spec.spuId);
    expect(spus.map((spu) => spu.spec.spuId)).toEqual(SPU_IDS);
    expect(
      spus.map((spu) => ({ name: spu.name, type: spu.spec.spuType, port: spu.spec.publicEndpoint.port, ingress: spu.spec.publicEndpoint.ingress, resolution: spu.status.resolution })),
    ).toEqual(
      SPU_IDS.map((id, index) => ({
        name: `custom-spu-${id}`,
        type: "Custom",
        port: portBase + 10 + 10 * index,
        ingress: [{ hostname: null, ip: "127.0.0.1" }],
        resolution: "Online",
      })),
    );
  }, TEST_TIMEOUT_MS);

  test("10,000 keyed records it produces come back from the beginning: each partition in send order, byte for byte, all 10,000 across partitions", async () => {
    const { home } = await createCluster();
    const client = await connect(home);
    await (await client.admin()).createTopic("keyed", { partitions: 3, replicationFactor: 3 });
    await waitForStatus(home, (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online));
    const sent = keyedRecords(10_000, "keyed");
    await produceAll(await client.topicProducer("keyed"), sent);

    const read = await readTopic(client, home, "keyed", sent.length);
    expect(firstDifference(read, sent)).toBeNull();
    // The keys spread: every partition holds some of them.
    expect(read.map((records) => records.length > 0)).toEqual([true, true, true]);
  }, TEST_TIMEOUT_MS);

  test("`cluster consume` prints the records the real client produced, and the real client reads the records `cluster produce` sent", async () => {
    const { home } = await createCluster();
    const client = await connect(home);
    await (await client.admin()).createTopic("from-client", { partitions: 3, replicationFactor: 3 });
    await waitForStatus(home, (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online));
    const sent = keyedRecords(10_000, "from-client");
    await produceAll(await client.topicProducer("from-client"), sent);
    const read = await readTopic(client, home, "from-client", sent.length);
    expect(firstDifference(read, sent)).toBeNull();
    for (const [partition, records] of read.entries()) {
      expect((await consumedBytes(home, "from-client", partition)).equals(lines(records))).toBe(true);
    }

    await ok(home, ["topic", "create", "from-cli", "--partitions", "3", "--replication", "3"]);
    const values = keyedRecords(3_000, "from-cli").map((record) => Buffer.from(record.value).toString());
    const produced = await ok(home, ["produce", "from-cli", "--json"], `${values.join("\n")}\n`);
    expect(produced.json.records).toBe(values.length);
    const fromCli = await readTopic(client, home, "from-cli", values.length);
    // `cluster produce` sends no keys and spreads its batches round-robin: each partition holds
    // a run of the lines in order, and together they hold every line once.
    const indexOf = new Map(values.map((value, index) => [value, index]));
    for (const records of fromCli) {
      expect(records.every((record) => record.key === null)).toBe(true);
      const indices = records.map((record) => indexOf.get(Buffer.from(record.value).toString()) ?? -1);
      expect(indices.every((index, position) => index >= 0 && (position === 0 || index > indices[position - 1]!))).toBe(true);
    }
    const all = fromCli.flat().map((record) => Buffer.from(record.value).toString());
    expect(all.length).toBe(values.length);
    expect(new Set(all)).toEqual(new Set(values));
  }, TEST_TIMEOUT_MS);

  test("after `cluster shutdown` and `cluster resume` a new connection reads every record again, byte for byte", async () => {
    const { home } = await createCluster();
    const before = await connect(home);
    await (await before.admin()).createTopic("kept", { partitions: 3, replicationFactor: 3 });
    await waitForStatus(home, (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online));
    const sent = keyedRecords(10_000, "kept");
    await produceAll(await before.topicProducer("kept"), sent);
    await highWatermarks(home, "kept", sent.length);

    await ok(home, ["shutdown"]);
    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json.spus).toEqual({ expected: SPU_IDS, registered: SPU_IDS, online: SPU_IDS });
    const after = await connect(home);
    expect(firstDifference(await readTopic(after, home, "kept", sent.length), sent)).toBeNull();
  }, TEST_TIMEOUT_MS);

  test("a partition leader killed with SIGKILL while the real client produces: every acknowledged record is read back (at least once: records of a retried chunk may be there twice)", async () => {
    const { home } = await createCluster();
    const client = await connect(home);
    await (await client.admin()).createTopic("failover", { partitions: 3, replicationFactor: 3 });
    const initial = await waitForStatus(home, (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online));
    const victim: number = initial.partitions[0].leader;
    const sent = keyedRecords(20_000, "failover");
    const CHUNK = 500;
    const KILL_AT_CHUNK = 10;
    // NOTE: a chunk's send is abandoned (counted unacknowledged, sent again on a new producer)
    // after this long. When the leader's socket resets under a produce, the client retries it
    // on the same socket, whose reader has ended (fluvio-socket versioned.rs
    // send_receive_with_retry), and waits FLV_SOCKET_WAIT (60 s) for an answer that cannot come.
    const CHUNK_DEADLINE_MS = 5_000;
    const RETRY_LIMIT_MS = 30_000;

    /**
     * Sends a chunk and resolves once every record of it is acknowledged. NOTE: flushed twice:
     * one flush waits for each partition's producer but reads their errors in another order
     * (fluvio 0.11.11 producer/mod.rs flush_all_batches zips two HashMaps), so it can resolve
     * while a partition's batch failed; after it, every partition's error is set, and the
     * second flush reports it. A failed partition keeps its error: the producer is replaced.
     */
    const acknowledge = async (producer: FluvioTopicProducer, records: readonly KeyedRecord[]) => {
      await producer.sendAll(producerItems(records));
      await producer.flush();
      await producer.flush();
    };

    let producer = await client.topicProducer("failover");
    const retried = new Set<number>();
    const failures: string[] = [];
    let retryingSince: number | undefined;
    for (let chunk = 0; chunk * CHUNK < sent.length; ) {
      const records = sent.slice(chunk * CHUNK, (chunk + 1) * CHUNK);
      const sending = acknowledge(producer, records);
      if (chunk === KILL_AT_CHUNK && !retried.has(chunk)) {
        await Bun.sleep(2);
        killRecorded(home, victim);
      }
      // NOTE: the native module rejects with an array holding the message, not an Error.
      const failure = await withDeadline(sending, CHUNK_DEADLINE_MS, `chunk ${chunk}`).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      if (failure === undefined) {
        chunk++;
        retryingSince = undefined;
        continue;
      }
      failures.push(`chunk ${chunk}: ${failure}`);
      retried.add(chunk);
      retryingSince ??= Date.now();
      if (Date.now() - retryingSince > RETRY_LIMIT_MS) throw new Error(`chunk ${chunk} was never acknowledged; failures: ${failures.join("; ")}`);
      await Bun.sleep(50);
      producer = await client.topicProducer("failover");
    }

    const failedOver = await waitForStatus(
      home,
      (status) => status.partitions.length === 3 && status.partitions.every((partition: any) => partition.online && !partition.isr.includes(victim)),
    );
    expect(failedOver.partitions[0].leader).not.toBe(victim);
    // The leaders' own count of each partition (`cluster consume -d` reads to the high watermark), then the real client reads as many.
    const consumed = await Promise.all([0, 1, 2].map((partition) => stdoutOf(home, ["consume", "failover", "-B", "-d", "--partition", String(partition), "--json"])));
    const cliValues = consumed.map((stdout) => JSON.parse(stdout.toString()).records.map((record: { value: string }) => record.value) as string[]);
    const read = await Promise.all(cliValues.map((values, partition) => readPartition(client, home, "failover", partition, values.length)));
    expect(read.map((records) => records.map((record) => Buffer.from(record.value).toString()))).toEqual(cliValues);

    const chunkOf = new Map(sent.map((record, index) => [Buffer.from(record.value).toString(), Math.floor(index / CHUNK)]));
    const copies = new Map<string, number>();
    for (const record of read.flat()) {
      const value = Buffer.from(record.value).toString();
      copies.set(value, (copies.get(value) ?? 0) + 1);
    }
    // Every record was acknowledged in the end, so every one is there; nothing else is.
    const missing = sent.map((record) => Buffer.from(record.value).toString()).filter((value) => !copies.has(value));
    expect({ missing: missing.length, firstMissing: missing.slice(0, 5), failures }).toEqual({ missing: 0, firstMissing: [], failures });
    expect([...copies.keys()].filter((value) => !chunkOf.has(value))).toEqual([]);
    // A record is there more than once only if its chunk was sent again.
    const duplicated = [...copies].filter(([, count]) => count > 1).map(([value]) => chunkOf.get(value)!);
    expect(duplicated.filter((chunk) => !retried.has(chunk))).toEqual([]);
  }, TEST_TIMEOUT_MS);

  test("the seed scenario: create 3, a topic at replication 3, produce with the real client, shutdown, create refused, resume confirms exactly 5001-5003, and the real client reads every record", async () => {
    const home = tempHome();
    const portBase = String(nextPortBase());
    const created = await ok(home, ["create", "--spus", "3", "--port-base", portBase, "--json"]);
    expect(created.json.spus).toEqual({ expected: SPU_IDS, registered: SPU_IDS, online: SPU_IDS });
    await ok(home, ["topic", "create", "repltopic", "--replication", "3"]);
    const sent = keyedRecords(5_000, "repltopic");
    await produceAll(await (await connect(home)).topicProducer("repltopic"), sent);
    await highWatermarks(home, "repltopic", sent.length);

    await ok(home, ["shutdown"]);
    const refused = await cli(home, ["create", "--spus", "3", "--port-base", portBase, "--json"]);
    expect({ exitCode: refused.exitCode, code: refused.json?.error?.code }).toEqual({ exitCode: 1, code: "CLUSTER_EXISTS" });
    const resumed = await ok(home, ["resume", "--json"]);
    expect(resumed.json).toMatchObject({
      phase: "running",
      started: ["sc", "spu-5001", "spu-5002", "spu-5003"],
      spus: { expected: SPU_IDS, registered: SPU_IDS, online: SPU_IDS },
    });

    const client = await connect(home);
    const spus = decodeList(await (await client.admin()).listSpu()) as any[];
    expect(spus.map((spu) => [spu.spec.spuId, spu.status.resolution]).sort()).toEqual(SPU_IDS.map((id) => [id, "Online"]));
    // Resume waits for each partition's leader; its followers rejoin the in-sync set a moment later.
    await waitForStatus(home, (status) => status.partitions[0]?.isr.length === 3);
    expect(firstDifference(await readTopic(client, home, "repltopic", sent.length), sent)).toBeNull();
  }, TEST_TIMEOUT_MS);
});
