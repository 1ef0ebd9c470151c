/**
 * `cluster consume TOPIC`: the records of one partition from its leader, one value per line.
 * Reads go up to the high watermark only, so a printed record is one every in-sync replica
 * holds. Records come through one Fluvio StreamFetch at a time (admin.ts RecordStream); `-d`
 * stops at the end of the log as it was when consuming began (the leader's FetchOffsets); without
 * it the stream waits for new records. When the leader fails or steps down, or sends nothing
 * while the SC names another leader (a hung one), reading goes on from the next offset at the
 * partition's new leader (withLeader). A reader that goes away (`consume T | head -1`) ends it
 * with exit 0, as it ends `cat`.
 *
 * `--consumer NAME` reads as Fluvio's consumer of that name (Fluvio 0.17.2 on): it starts one
 * past the offset NAME last committed on the partition (else where -B or the default says; an
 * `--offset` wins, as an absolute offset does in Fluvio), and commits the last offset of each
 * answer once it is printed, so a later run goes on from there.
 */
import type { Argv } from "yargs";
import {
  listConsumerOffsets,
  partitionLeader,
  partitionOffsets,
  RecordStream,
  topicLeaders,
  type PartitionLeader,
  type RunningCluster,
  type StreamedRecords,
} from "../fluvio/admin.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { locateCluster } from "../cluster/locate.ts";
import { withLeader } from "../fluvio/with-leader.ts";
import { clusterOptions, timeoutOption, type CommonArgs } from "../terminal/output.ts";
import { pipeGrower } from "../terminal/pipe-capacity.ts";

/** Most bytes of records the leader sends in one stream answer. */
const CONSUME_MAX_BYTES = 4 * 1024 * 1024;
const STDOUT_FD = 1;
/** How long a stream may send nothing before the SC is asked whether its leader still leads. */
const QUIET_STREAM_MS = 6_000;
/** The longest consumer name taken (Fluvio sets none but its string's; a name is a label, not a document). */
const MAX_CONSUMER_NAME = 255;
/** How long a read may wait for its partition's leader by default. */
const DEFAULT_TIMEOUT_S = 30;

/** Options of {@link consumeRecords}. */
export interface ConsumeOptions {
  home?: string;
  name?: string;
  topic: string;
  /** Default 0. */
  partition?: number;
  /** Start offset: a number, "beginning", or "end" (the default: only new records). */
  from?: number | "beginning" | "end";
  /** Stop at the end of the log (as of the first read) instead of waiting for more. */
  stopAtEnd?: boolean;
  signal?: AbortSignal;
  /** How long a read keeps retrying while the partition's leader is unreachable or moving (default 30 s). */
  timeoutMs?: number;
  /** Read as this consumer: from one past its committed offset (unless `from` is a number), committing each batch once the caller takes the next. */
  consumer?: string;
}

/** Records read in one answer: the offset of the first, how many, and their values (decoded when asked for). */
export interface ConsumedBatch {
  offset: number;
  count: number;
  values(): Uint8Array[];
  /** The values, each followed by '\n', in one buffer. */
  lines(): Uint8Array;
}

/** Yields batches of records in offset order; ends at the end of the log with `stopAtEnd`, else when `signal` aborts. */
export async function* consumeRecords(options: ConsumeOptions): AsyncGenerator<ConsumedBatch> {
  const cluster = locateCluster(options, "run");
  const partition = options.partition ?? 0;
  let leader = await partitionLeader(cluster, options.topic, partition);
  const from = options.from ?? "end";
  // The beginning is the partition's start offset, which retention moves: found with the end at the first read.
  let offset: number | undefined = typeof from === "number" ? from : undefined;
  // As Fluvio's consumer: one past the committed offset, brought within the log (retention may have moved its start).
  let withinLog = false;
  if (options.consumer !== undefined && typeof from !== "number") {
    const [kept] = await listConsumerOffsets(cluster, { consumer: options.consumer, replica: { topic: options.topic, partition } });
    if (kept) [offset, withinLog] = [kept.offset + 1, true];
  }
  let end: number | undefined;
  const reader = new StreamReader(cluster, options.topic, { consumer: options.consumer, signal: options.signal });
  try {
    while (!options.signal?.aborted) {
      const request = { offset, end, stopAtEnd: options.stopAtEnd ?? false, fromStart: from === "beginning", withinLog };
      const following = { cluster, topic: options.topic, leader, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_S * 1000, signal: options.signal };
      const answer = await withLeader(following, (current) => reader.read(current, request)).catch((error) => {
        if (options.signal?.aborted) return { value: { records: undefined, nextOffset: offset ?? 0, end: end ?? 0 }, leader };
        throw error;
      });
      leader = answer.leader;
      const { records, nextOffset } = answer.value;
      end ??= answer.value.end;
      withinLog = false;
      if (records && records.count > 0) {
        yield { offset: records.offset, count: records.count, values: records.values, lines: records.lines };
        // The caller asked for more, so it has used these.
        if (options.consumer !== undefined) await reader.commit(nextOffset - 1);
      }
      offset = nextOffset;
      if (options.stopAtEnd && offset >= end) return;
    }
  } finally {
    reader.close();
  }
}

/**
 * Reads a partition through one StreamFetch at a time: opened at the leader at the offset
 * asked for (a moved leader or a new offset opens another), each read the next answer.
 */
class StreamReader {
  readonly #cluster: RunningCluster;
  readonly #topic: string;
  readonly #consumer: string | undefined;
  readonly #signal: AbortSignal | undefined;
  #stream: { leader: PartitionLeader; offset: number; records: RecordStream } | undefined;

  /** Streams are `consumer`'s when given; a wait for the next answer ends when `signal` aborts (a Ctrl-C is not kept waiting). */
  constructor(cluster: RunningCluster, topic: string, options: { consumer?: string; signal?: AbortSignal } = {}) {
    this.#cluster = cluster;
    this.#topic = topic;
    this.#consumer = options.consumer;
    this.#signal = options.signal;
  }

  /** Commits `offset` as the consumer's, through the stream that delivered it. */
  async commit(offset: number): Promise<void> {
    await this.#stream?.records.commit(offset);
  }

  /**
   * The records from `offset` (when undefined, the partition's start with `fromStart`, else its end), and where the log ended when
   * reading began (`end`): found now if not given. With `stopAtEnd` an offset beyond that end
   * is OFFSET_OUT_OF_RANGE, and reading stops there. With `withinLog` the offset is first
   * brought within the partition's offsets.
   */
  async read(
    leader: PartitionLeader,
    request: { offset: number | undefined; end: number | undefined; stopAtEnd: boolean; fromStart?: boolean; withinLog?: boolean },
  ): Promise<{ records: StreamedRecords | undefined; nextOffset: number; end: number }> {
    let { offset, end } = request;
    if (offset === undefined || end === undefined || this.#stream?.leader !== leader) {
      const offsets = await partitionOffsets(this.#cluster, this.#topic, leader);
      end ??= offsets.highWatermark;
      offset ??= request.fromStart ? offsets.start : offsets.highWatermark;
      if (request.withinLog) offset = Math.min(Math.max(offset, offsets.start), offsets.highWatermark);
      if (offset < offsets.start || (request.stopAtEnd && offset > end)) {
        throw new ClusterError("OFFSET_OUT_OF_RANGE", `offset ${offset} is outside partition ${leader.partition} of '${this.#topic}' (offsets ${offsets.start} to ${end})`, {
          hint: `pass an --offset within that range, -B to read from the beginning, or neither to read new records only`,
        });
      }
    }
    if (request.stopAtEnd && offset >= end) return { records: undefined, nextOffset: offset, end };
    if (!this.#stream || this.#stream.leader !== leader || this.#stream.offset !== offset) {
      this.close();
      const records = await RecordStream.open(this.#cluster, this.#topic, leader, offset, CONSUME_MAX_BYTES, this.#consumer === undefined ? {} : { consumerId: this.#consumer });
      this.#stream = { leader, offset, records };
    }
    const answer = await this.#stream.records.next(QUIET_STREAM_MS, this.#signal).catch((error) => {
      this.close();
      throw error;
    });
    if (!answer && this.#signal?.aborted) return { records: undefined, nextOffset: offset, end };
    if (!answer) {
      // A leader that sends nothing may be one the SC has replaced (a hung SPU): ask where it is now.
      const now = (await topicLeaders(this.#cluster, this.#topic)).find((entry) => entry.partition === leader.partition);
      if (now && now.leader !== leader.leader) {
        this.close();
        throw new ClusterError("NOT_LEADER", `SPU ${leader.leader} no longer leads partition ${leader.partition} of '${this.#topic}'`);
      }
      return { records: undefined, nextOffset: offset, end };
    }
    this.#stream.offset = answer.nextOffset;
    return { records: answer, nextOffset: answer.nextOffset, end };
  }

  close(): void {
    this.#stream?.records.close();
    this.#stream = undefined;
  }
}

/** Every record from the start offset to the end of the log (`stopAtEnd` implied). */
export async function consumeToEnd(options: Omit<ConsumeOptions, "stopAtEnd">): Promise<{ topic: string; partition: number; records: { offset: number; value: string }[] }> {
  const records: { offset: number; value: string }[] = [];
  for await (const batch of consumeRecords({ ...options, stopAtEnd: true })) {
    batch.values().forEach((value, index) => records.push({ offset: batch.offset + index, value: Buffer.from(value).toString("utf8") }));
  }
  return { topic: options.topic, partition: options.partition ?? 0, records };
}

/**
 * Writes `lines` in one write, waiting when the pipe is full until it drains or `closed`
 * aborts (stdout failed: its reader went away, and no `drain` will ever come).
 */
async function writeLines(lines: Uint8Array, closed: AbortSignal, growPipe: (bytes: number) => void): Promise<void> {
  if (closed.aborted) return;
  growPipe(lines.byteLength);
  if (process.stdout.write(lines)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      process.stdout.off("drain", done);
      closed.removeEventListener("abort", done);
      resolve();
    };
    process.stdout.once("drain", done);
    closed.addEventListener("abort", done, { once: true });
  });
}

interface ConsumeArgs extends CommonArgs {
  topic: string;
  partition: number;
  fromBeginning?: boolean;
  offset?: number;
  disableContinuous?: boolean;
  consumer?: string;
  timeout: number;
}

/** The `consume` command module: values to stdout as they arrive (or one JSON document with `--json -d`). */
export const consumeCommand = {
  command: "consume <topic>",
  describe: "Print the records of a partition, one value per line",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Seconds a read keeps retrying while the partition's leader is unreachable or moving", DEFAULT_TIMEOUT_S)
      .positional("topic", { type: "string", demandOption: true, describe: "Topic to read" })
      .option("from-beginning", { alias: "B", type: "boolean", describe: "Start at the first record (default: only new records)" })
      .option("offset", { type: "number", describe: "Start at this offset" })
      .option("disable-continuous", { alias: "d", type: "boolean", describe: "Exit at the end of the log instead of waiting for records" })
      .option("partition", { type: "number", default: 0, describe: "Partition to read" })
      .option("consumer", { type: "string", describe: "Read as this named consumer: go on after the offset it committed, and commit what is printed" })
      .conflicts("from-beginning", "offset")
      .check((argv) => {
        for (const flag of ["offset", "partition"] as const) {
          const value = argv[flag];
          if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) {
            throw new UsageError(`--${flag} must be a non-negative integer, not '${value}'`);
          }
        }
        if (argv.json && !argv.disableContinuous) throw new UsageError("--json prints one document, so it needs -d (stop at the end of the log)");
        if (argv.consumer !== undefined && (argv.consumer.length === 0 || argv.consumer.length > MAX_CONSUMER_NAME)) {
          throw new UsageError(`--consumer needs a name of 1 to ${MAX_CONSUMER_NAME} characters, not '${argv.consumer}'`);
        }
        return true;
      })
      .example("$0 consume orders -B -d", "every record of 'orders' partition 0, then exit")
      .example("$0 consume orders -B -d --consumer billing", "the records 'billing' has not read yet (all of them the first time), then exit"),
  handler: async (argv: ConsumeArgs): Promise<number> => {
    const options: ConsumeOptions = {
      home: argv.home,
      name: argv.name,
      topic: argv.topic,
      partition: argv.partition,
      from: argv.offset ?? (argv.fromBeginning ? "beginning" : "end"),
      timeoutMs: argv.timeout * 1000,
      ...(argv.consumer === undefined ? {} : { consumer: argv.consumer }),
    };
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(await consumeToEnd(options), null, 2)}\n`);
      return 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    // NOTE: stdout reports a reader that went away (EPIPE) as an 'error' event, once, on the
    // write after it left; a closed stdout also ends consuming, so `consume T | head -1` ends.
    const closed = new AbortController();
    const onOutputError = (error: Error) => {
      closed.abort(error);
      stop.abort();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    process.stdout.on("error", onOutputError);
    try {
      const growPipe = pipeGrower(STDOUT_FD);
      for await (const batch of consumeRecords({ ...options, stopAtEnd: argv.disableContinuous, signal: stop.signal })) {
        await writeLines(batch.lines(), closed.signal, growPipe);
        if (closed.signal.aborted) break;
      }
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.stdout.off("error", onOutputError);
    }
    // Like `cat | head`: a reader that stopped reading is the end of the output, not a failure.
    if (closed.signal.aborted && (closed.signal.reason as NodeJS.ErrnoException).code !== "EPIPE") throw closed.signal.reason;
    return 0;
  },
};
