/**
 * `cluster produce TOPIC`: one record per line of stdin, sent to the partition leaders in
 * batches (never a request per record). While one batch is in flight the next one fills and
 * is encoded, so batches grow with the leader's latency and encoding takes none of it; each
 * request returns once every in-sync replica has its batch fsynced (acks=all), and only then is
 * the next sent. Without `--partition`, batches go round-robin over partitions.
 *
 * Delivery is at-least-once: a batch whose leader fails or steps down is sent again to the new
 * leader (withLeader), and the old leader may have passed it to the new one before it failed,
 * so a batch can be stored twice. A batch this verb reports as acknowledged is in every
 * in-sync replica; one it could not send within `--timeout` fails the command at once, even
 * while stdin stays open (`tail -f | cluster produce`). The report, and a failure's message,
 * say which offsets were acknowledged and which records may be stored twice (produce-report.ts).
 */
import type { Argv } from "yargs";
import { encodeBatch, produceBatch, topicLeaders, type EncodedBatch, type PartitionLeader, type RunningCluster } from "../fluvio/admin.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { locateCluster } from "../cluster/locate.ts";
import { withLeader } from "../fluvio/with-leader.ts";
import { clusterOptions, printResult, timeoutOption, type CommonArgs } from "../terminal/output.ts";
import { PRODUCE_TIMEOUT_MS } from "../engine/model/mod.ts";
import { CODECS, type Codec, type ValueSpans } from "../engine/wire/fluvio/spu-mod.ts";
import { formatPartitions, reportPartitions, type AcknowledgedBatch, type PartitionReport } from "../fluvio/produce-report.ts";

/** A batch is sent once it holds this many bytes of values (or the input ends). */
const MAX_BATCH_BYTES = 1024 * 1024;
const NEWLINE = 10;
/** How long a batch may wait for its partition's leader by default. */
const DEFAULT_TIMEOUT_S = 30;

/** Options of {@link produceRecords}. */
export interface ProduceOptions {
  home?: string;
  name?: string;
  topic: string;
  /** Every batch to this partition; round-robin over all partitions when absent. */
  partition?: number;
  /** Compress each batch with this codec (default: none); the SPU stores it compressed. */
  compression?: Codec;
  /** The bytes to split into lines (stdin for the CLI); cancelled when a batch fails before it ends. */
  input: ReadableStream<Uint8Array>;
  /** How long a batch keeps retrying while its partition's leader is unreachable or moving (default 30 s). */
  timeoutMs?: number;
}

/** What {@link produceRecords} acknowledged. */
export interface ProduceResult {
  topic: string;
  records: number;
  batches: number;
  /** Offsets given, per partition written (produce-report.ts). */
  partitions: PartitionReport[];
}

/** Produces every line of `options.input` as a record; resolves once all are acknowledged. */
export async function produceRecords(options: ProduceOptions): Promise<ProduceResult> {
  const cluster = locateCluster(options, "run");
  const leaders = await topicLeaders(cluster, options.topic);
  if (options.partition !== undefined && !leaders.some((leader) => leader.partition === options.partition)) {
    throw new ClusterError("NO_PARTITION", `topic '${options.topic}' has no partition ${options.partition} (it has ${leaders.length})`, {
      hint: `pass --partition from 0 to ${leaders.length - 1}, or leave it out to spread batches over all`,
    });
  }
  const result: ProduceResult = { topic: options.topic, records: 0, batches: 0, partitions: [] };
  const acknowledged: AcknowledgedBatch[] = [];
  // The lines read and not yet sent, as spans of their chunks (no view a line).
  const queue: ValueSpans = { sources: [], starts: [], ends: [] };
  let queuedBytes = 0;
  let ended = false;
  let wakeSender: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;

  /** Takes what is queued, up to MAX_BATCH_BYTES (at least one line), and encodes it as a batch. */
  const nextBatch = (): Promise<EncodedBatch> => {
    const queued = queue.starts.length;
    let count = 0;
    let bytes = 0;
    while (count < queued) {
      const lineBytes = 4 + queue.ends[count]! - queue.starts[count]!;
      if (count > 0 && bytes + lineBytes > MAX_BATCH_BYTES) break;
      bytes += lineBytes;
      count++;
    }
    const values: ValueSpans = { sources: queue.sources.splice(0, count), starts: queue.starts.splice(0, count), ends: queue.ends.splice(0, count) };
    queuedBytes -= bytes;
    wakeReader?.();
    return encodeBatch(values, { compression: options.compression });
  };

  // One batch in flight; the next is whatever queued meanwhile, so batches grow with latency.
  // It is encoded while the one before is in flight, and sent only once that one is acknowledged.
  const sender = (async () => {
    let prepared: Promise<EncodedBatch> | undefined;
    for (;;) {
      if (!prepared && queue.starts.length === 0) {
        if (ended) return;
        await new Promise<void>((resolve) => (wakeSender = resolve));
        continue;
      }
      const batch = await (prepared ?? nextBatch());
      prepared = undefined;
      const index =
        options.partition !== undefined ? leaders.findIndex((entry) => entry.partition === options.partition) : result.batches % leaders.length;
      result.batches++;
      const sending = sendBatch(leaders[index]!, batch, {
        cluster,
        topic: options.topic,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_S * 1000,
      });
      if (queue.starts.length > 0) {
        // After this batch's request is written (its sending takes a few promise steps).
        prepared = new Promise<void>((resolve) => setImmediate(resolve)).then(nextBatch);
        // A batch prepared behind one that fails is never sent: that one's error is the one thrown.
        prepared.catch(() => {});
      }
      const sent = await sending;
      leaders[index] = sent.leader;
      acknowledged.push(sent.batch);
      result.records += batch.count;
    }
  })();
  const reader = options.input.getReader();
  // A failed batch ends reading at once (and is thrown below): input that never ends, as from
  // `tail -f`, must not hide it, and a read left pending would keep the process alive.
  // This also marks the failure handled while the input is read.
  sender.catch(() => reader.cancel().catch(() => {}));

  try {
    for await (const lines of splitLines(chunksOf(reader))) {
      for (let index = 0; index < lines.starts.length; index++) {
        queue.sources.push(lines.sources[index]!);
        queue.starts.push(lines.starts[index]!);
        queue.ends.push(lines.ends[index]!);
        queuedBytes += 4 + lines.ends[index]! - lines.starts[index]!;
      }
      wakeSender?.();
      // Read ahead at most two batches; a failed send ends the wait with its error.
      if (queuedBytes >= 2 * MAX_BATCH_BYTES) await Promise.race([new Promise<void>((resolve) => (wakeReader = resolve)), sender]);
    }
    ended = true;
    wakeSender?.();
    await sender;
  } catch (error) {
    throw withAcknowledged(error, options.topic, reportPartitions(acknowledged));
  }
  result.partitions = reportPartitions(acknowledged);
  return result;
}

/** A failed produce's error, saying what was acknowledged before it (in `details` too, for `--json`). */
function withAcknowledged(error: unknown, topic: string, partitions: PartitionReport[]): unknown {
  if (!(error instanceof ClusterError)) return error;
  const records = partitions.reduce((sum, entry) => sum + entry.records, 0);
  const before =
    records === 0 ? `no record was acknowledged to '${topic}'` : `${records} record(s) were acknowledged to '${topic}' before it: ${formatPartitions(partitions)}`;
  return new ClusterError(error.code, `${error.message}; ${before}`, {
    hint: error.hint,
    cause: error,
    details: { acknowledged: { records, partitions } },
  });
}

/** Sends one batch until its partition's leader acknowledges it; returns the batch as acknowledged and that leader, for the next batch. */
async function sendBatch(
  leader: PartitionLeader,
  batch: EncodedBatch,
  context: { cluster: RunningCluster; topic: string; timeoutMs: number },
): Promise<{ batch: AcknowledgedBatch; leader: PartitionLeader }> {
  const sent = await withLeader({ cluster: context.cluster, topic: context.topic, leader, timeoutMs: context.timeoutMs }, (current) =>
    // The leader answers within PRODUCE_TIMEOUT_MS (PRODUCE_TIMEOUT if its followers lag); past that it is wedged.
    produceBatch(context.cluster, context.topic, current, batch, { timeoutMs: PRODUCE_TIMEOUT_MS }),
  );
  const { baseOffset, lastOffset } = sent.value;
  return { batch: { partition: leader.partition, baseOffset, lastOffset, attempts: sent.attempts }, leader: sent.leader };
}

/** The chunks `reader` reads, until its stream ends. */
async function* chunksOf(reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> }): AsyncGenerator<Uint8Array> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done || value === undefined) return;
    yield value;
  }
}

/**
 * The lines of `input` without their '\n' (a last line without one counts too), as spans of
 * the chunks they lie in: for each chunk, the lines it completes (none a view of its own).
 */
export async function* splitLines(input: AsyncIterable<Uint8Array>): AsyncGenerator<ValueSpans> {
  let carry: Buffer | undefined;
  for await (const chunk of input) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // Uint8Array's indexOf: several times faster than Buffer's.
    const search = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: ValueSpans = { sources: [], starts: [], ends: [] };
    let start = 0;
    let end = search.indexOf(NEWLINE);
    // Only a line that spans chunks is joined: the others stay in their chunk.
    if (carry) {
      if (end < 0) {
        carry = Buffer.concat([carry, bytes]);
        continue;
      }
      const joined = Buffer.concat([carry, bytes.subarray(0, end)]);
      lines.sources.push(joined);
      lines.starts.push(0);
      lines.ends.push(joined.byteLength);
      carry = undefined;
      start = end + 1;
      end = search.indexOf(NEWLINE, start);
    }
    for (; end >= 0; end = search.indexOf(NEWLINE, start)) {
      lines.sources.push(bytes);
      lines.starts.push(start);
      lines.ends.push(end);
      start = end + 1;
    }
    // Like the lines, a view: Bun's stream never reuses a chunk's memory.
    if (start < bytes.length) carry = bytes.subarray(start);
    if (lines.starts.length > 0) yield lines;
  }
  if (carry) yield { sources: [carry], starts: [0], ends: [carry.byteLength] };
}

/** "produced 3 record(s) to 'orders' in 1 batch(es): partition 0 offsets 0..2" */
export function formatProduceResult(result: ProduceResult): string {
  if (result.records === 0) return `no records produced to '${result.topic}': the input was empty`;
  return `produced ${result.records} record(s) to '${result.topic}' in ${result.batches} batch(es): ${formatPartitions(result.partitions)}`;
}

interface ProduceArgs extends CommonArgs {
  topic: string;
  partition?: number;
  compression?: Codec;
  timeout: number;
}

/** The `produce` command module. */
export const produceCommand = {
  command: "produce <topic>",
  describe: "Produce one record per line of stdin (acknowledged by every in-sync replica)",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Seconds a batch keeps retrying while its partition's leader is unreachable or moving", DEFAULT_TIMEOUT_S)
      .positional("topic", { type: "string", demandOption: true, describe: "Topic to write to" })
      .option("partition", { type: "number", describe: "Write every record to this partition (default: batches round-robin)" })
      .option("compression", { choices: CODECS, describe: "Compress each batch with this codec, as Fluvio's producer does (default: none)" })
      .check((argv) => {
        if (argv.partition !== undefined && !(Number.isInteger(argv.partition) && (argv.partition as number) >= 0)) {
          throw new UsageError(`--partition must be a non-negative integer, not '${argv.partition}'`);
        }
        return true;
      })
      .example("printf 'a\\nb\\n' | $0 produce orders", "two records to topic 'orders'"),
  handler: async (argv: ProduceArgs): Promise<number> => {
    const result = await produceRecords({
      home: argv.home,
      name: argv.name,
      topic: argv.topic,
      partition: argv.partition,
      compression: argv.compression,
      input: Bun.stdin.stream(),
      timeoutMs: argv.timeout * 1000,
    });
    printResult(argv, result, formatProduceResult);
    return 0;
  },
};
