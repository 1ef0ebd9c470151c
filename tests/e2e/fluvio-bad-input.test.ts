/**
 * Bad input on the Fluvio public ports, end to end with real processes: raw TCP to the SC's
 * public port and to a partition leader's, each kind on a connection of its own, built with the
 * codec (lib/engine/wire/fluvio) as a valid request and then broken: an unknown API key, a
 * truncated frame held open and then closed, a size prefix of 2 GiB, and (to the SPU) a produce batch whose CRC is wrong.
 *
 * The promise: each gets Fluvio's error answer or a closed connection, never a crash. After it
 * the daemons are the same processes, alive; `cluster status` says running with every SPU
 * online; no leader, epoch or in-sync set moved; and a real-client connection opened before the
 * junk goes on producing and streaming.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { clusterPaths, logFileOf } from "../../lib/cluster/home.ts";
import { isAlive } from "../../lib/base/procs.ts";
import { portLayout } from "../../lib/cluster/spec.ts";
import { readState } from "../../lib/cluster/state.ts";
import { SC_API_KEY, SC_OBJECT_VERSION, SPU_API_KEY, SPU_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { encodeRequest, type RequestHeader } from "../../lib/engine/wire/fluvio/framing.ts";
import { encodeListRequest } from "../../lib/engine/wire/fluvio/object-api.ts";
import { decodeProduceResponse, encodeProduceRequest, type PartitionProduceResponse } from "../../lib/engine/wire/fluvio/produce.ts";
import type { Reader } from "../../lib/engine/wire/fluvio/reader.ts";
import { encodeBatches, recordBatch } from "../../lib/engine/wire/fluvio/record-batch.ts";
import type { Writer } from "../../lib/engine/wire/fluvio/writer.ts";
import { ok } from "../cluster-data.ts";
import { apiVersionsRequest as rawApiVersions, openRaw } from "../fluvio-raw.ts";
import { loadFluvioClient, type FluvioRecordIterator, type FluvioTopicProducer } from "../fluvio-client.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(28000);
const SPU_IDS = [5001, 5002, 5003];
/**
 * Each test's limit. NOTE: given here, not left to tests/setup.ts: under Bun 1.4.5 a
 * `setDefaultTimeout` in a preload holds for the first test file of a run only, and the others
 * get the 5 s default.
 */
const TEST_TIMEOUT_MS = 60_000;
const TOPIC = "steady";
/** How long a truncated frame is held open before the client closes it. */
const HOLD_MS = 1_500;
const CLIENT_ID = "bad-input";

function header(apiKey: number, apiVersion: number, correlationId: number): RequestHeader {
  return { apiKey, apiVersion, correlationId, clientId: CLIENT_ID };
}

function apiVersionsRequest(correlationId: number, override: Partial<RequestHeader> = {}): Buffer {
  return rawApiVersions(correlationId, CLIENT_ID, override);
}

/** List SPU at the SC's object API version (or `version`). */
function listSpusRequest(correlationId: number, version = SC_OBJECT_VERSION): Buffer {
  return encodeRequest(header(SC_API_KEY.list, version, correlationId), (writer) =>
    encodeListRequest(writer, { type: "SPU", nameFilters: [], summary: false, system: false }, version),
  );
}

/** A produce of `values` to partition 0 of TOPIC; `corrupt` changes the batch after its CRC was computed. */
function produceRequest(correlationId: number, values: string[], options: { version?: number; corrupt?: (batches: Uint8Array) => void } = {}): Buffer {
  const version = options.version ?? SPU_VERSION;
  const batches = encodeBatches([recordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), { firstTimestamp: Date.now() })]);
  options.corrupt?.(batches);
  const write = (writer: Writer) =>
    encodeProduceRequest(
      writer,
      { transactionalId: null, isolation: "ReadUncommitted", timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, records: batches }] }], smartModules: [] },
      version,
    );
  return encodeRequest(header(SPU_API_KEY.produce, version, correlationId), write);
}

function partitionAnswer(body: Reader): PartitionProduceResponse {
  return decodeProduceResponse(body, SPU_VERSION).responses[0]!.partitions[0]!;
}

/** The first `count` bytes of `frame`: its size prefix promises more than follows. */
function truncated(frame: Uint8Array, count: number): Uint8Array {
  return frame.subarray(0, count);
}

/** A size prefix of 2 GiB (negative as an i32), then the start of a request. */
function twoGibPrefix(): Uint8Array {
  const bytes = Buffer.alloc(4 + 16);
  bytes.writeUInt32BE(0x8000_0000, 0);
  apiVersionsRequest(99).copy(bytes, 4, 4, 20);
  return bytes;
}

/** The junk that only closes a connection, each sent on a connection of its own; returns what each got. */
async function sendJunk(port: number, validRequest: (correlationId: number) => Buffer) {
  const outcomes: Record<string, { answered: boolean; closed: boolean }> = {};
  const unknownKey = await openRaw(port);
  unknownKey.write(apiVersionsRequest(1, { apiKey: 4242 }));
  outcomes["an unknown api key"] = await unknownKey.settle(1);

  const hugePrefix = await openRaw(port);
  hugePrefix.write(twoGibPrefix());
  outcomes["a size prefix of 2 GiB"] = await hugePrefix.settle(99);

  // A frame cut short is not an error yet: the server waits for the rest, answers nothing, and
  // copes when the client goes away mid-frame.
  const cut = await openRaw(port);
  cut.write(truncated(validRequest(7), 12));
  outcomes["a truncated frame, held open"] = await cut.settle(7, HOLD_MS);
  cut.end();

  for (const connection of [unknownKey, hugePrefix]) connection.end();
  return outcomes;
}

/** What must not move: each process's pid and start time, and each partition's leader, epoch and in-sync set. */
function snapshot(home: string) {
  const paths = clusterPaths(home, "local");
  const processes = readState(paths).processes.map(({ role, id, pid, startTime }) => ({ role, id, pid, startTime }));
  const partitionDir = join(paths.metadata, "Partition");
  const partitions = readdirSync(partitionDir)
    .sort()
    .map((file) => {
      const object = parse(readFileSync(join(partitionDir, file), "utf8"));
      return { name: object.name, ...object.leaderAndIsr };
    });
  return { processes, partitions };
}

function logLines(home: string, component: string): string[] {
  return readFileSync(logFileOf(clusterPaths(home, "local"), component), "utf8").split("\n").filter(Boolean);
}

/** A cluster of 3 SPUs, TOPIC at replication 3, and a real client producing to and streaming from it. */
async function steadyCluster() {
  const home = tempHome();
  const portBase = nextPortBase();
  await ok(home, ["create", "--spus", "3", "--port-base", String(portBase)]);
  await ok(home, ["topic", "create", TOPIC, "--replication", "3"]);
  const client = await loadFluvioClient().connect(`127.0.0.1:${portBase + 3}`);
  const producer = await client.topicProducer(TOPIC);
  const stream = await (await client.partitionConsumer(TOPIC, 0)).createStream({ index: 0, from: "beginning" });
  const before = await produceAndRead(producer, stream, "before");
  const { leader } = (await ok(home, ["status", "--json"])).json.partitions[0];
  return { home, portBase, layout: portLayout(portBase, 3), client, producer, stream, leader: leader as number, before };
}

/** Produces 100 records through `producer` and reads them back from `stream`, each within a deadline. */
async function produceAndRead(producer: FluvioTopicProducer, stream: FluvioRecordIterator, label: string): Promise<string[]> {
  const values = Array.from({ length: 100 }, (_, i) => `${label} ${i}`);
  await producer.sendAll(values.map((value) => ["", Buffer.from(value)]));
  await producer.flush();
  const read: string[] = [];
  while (read.length < values.length) read.push(await readNext(stream, `'${label}' record ${read.length} of ${values.length}`));
  return read;
}

/** The next value of `stream`; fails naming `what` after 10 s instead of hanging. */
async function readNext(stream: FluvioRecordIterator, what: string): Promise<string> {
  const next = stream.next();
  next.catch(() => {});
  const item = await Promise.race([next, Bun.sleep(10_000).then(() => undefined)]);
  if (!item?.value) throw new Error(`the stream opened before the junk did not give ${what}`);
  return item.value.valueString();
}

/** The checks after the junk: same live processes, running with every SPU online, nothing moved, the old client works. */
async function expectUndisturbed(cluster: Awaited<ReturnType<typeof steadyCluster>>, before: ReturnType<typeof snapshot>, scLogFrom: number) {
  const { home, client, producer, stream } = cluster;
  expect(await produceAndRead(producer, stream, "after")).toEqual(Array.from({ length: 100 }, (_, i) => `after ${i}`));
  const spus = JSON.parse(new TextDecoder().decode(await (await client.admin()).listSpu()));
  expect(spus.map((spu: any) => [spu.spec.spuId, spu.status.resolution]).sort()).toEqual(SPU_IDS.map((id) => [id, "Online"]));

  const status = (await ok(home, ["status", "--json"])).json;
  expect({ phase: status.phase, online: status.spus.online }).toEqual({ phase: "running", online: SPU_IDS });
  const after = snapshot(home);
  expect(after).toEqual(before);
  expect(after.processes.filter((entry) => !isAlive({ pid: entry.pid, startTime: entry.startTime, argv: [] }))).toEqual([]);
  // The SC's own system topic is there too (consumer-offset, made at start).
  expect(after.partitions.map((partition) => [partition.name, partition.leaderEpoch])).toEqual([["consumer-offset-0", 0], [`${TOPIC}-0`, 0]]);
  const scLog = logLines(home, "sc").slice(scLogFrom);
  expect(scLog.filter((line) => /SPU \d+ (offline|sent nothing)|elected|in-sync set|no leader/.test(line))).toEqual([]);
}

describe("bad input on the Fluvio public ports of a replication-3 cluster", () => {
  test("the SC's public port closes the connection of an unknown api key and a 2 GiB size prefix, waits out a truncated frame, and nothing else is disturbed", async () => {
    const cluster = await steadyCluster();
    const before = snapshot(cluster.home);
    const scLogFrom = logLines(cluster.home, "sc").length;

    const outcomes = await sendJunk(cluster.layout.sc.publicPort, listSpusRequest);
    expect(outcomes).toEqual({
      "an unknown api key": { answered: false, closed: true },
      "a size prefix of 2 GiB": { answered: false, closed: true },
      "a truncated frame, held open": { answered: false, closed: false },
    });
    // A fresh connection is served as ever.
    const fresh = await openRaw(cluster.layout.sc.publicPort);
    fresh.write(apiVersionsRequest(1));
    fresh.write(listSpusRequest(2));
    expect(await fresh.settle(2)).toEqual({ answered: true, closed: false });
    fresh.end();

    await expectUndisturbed(cluster, before, scLogFrom);
  }, TEST_TIMEOUT_MS);

  test("a partition leader's public port refuses a batch with a wrong CRC in its partition's answer and stores none of it, closes the connection of an unknown api key and a 2 GiB size prefix, waits out a truncated frame, and nothing else is disturbed", async () => {
    const cluster = await steadyCluster();
    const before = snapshot(cluster.home);
    const scLogFrom = logLines(cluster.home, "sc").length;
    const leaderPort = cluster.layout.spus.find((spu) => spu.id === cluster.leader)!.publicPort;
    const produceAt = (correlationId: number) => produceRequest(correlationId, ["junk"]);

    const outcomes = await sendJunk(leaderPort, produceAt);
    expect(outcomes).toEqual({
      "an unknown api key": { answered: false, closed: true },
      "a size prefix of 2 GiB": { answered: false, closed: true },
      "a truncated frame, held open": { answered: false, closed: false },
    });

    const producing = await openRaw(leaderPort);
    producing.write(apiVersionsRequest(1));
    // The byte before the batch's last is the last byte of its last value ('2' becomes '0'): the CRC no longer matches.
    producing.write(produceRequest(2, ["corrupt 1", "corrupt 2"], { corrupt: (batches) => void (batches[batches.length - 2]! ^= 0x02) }));
    expect(await producing.settle(2)).toEqual({ answered: true, closed: false });
    const refused = partitionAnswer(producing.answers.get(2)!);
    expect(refused.errorCode.code).not.toBe("None");
    expect(JSON.stringify(refused.errorCode)).toContain("crc");
    // The same connection goes on: a valid batch is stored right after the records before it, nothing of the refused one between.
    producing.write(produceRequest(3, ["valid"]));
    expect(await producing.settle(3)).toEqual({ answered: true, closed: false });
    expect(partitionAnswer(producing.answers.get(3)!)).toMatchObject({ errorCode: { code: "None" }, baseOffset: cluster.before.length });
    producing.end();

    expect(await readNext(cluster.stream, "the record 'valid'")).toBe("valid");
    await expectUndisturbed(cluster, before, scLogFrom);
  }, TEST_TIMEOUT_MS);
});
