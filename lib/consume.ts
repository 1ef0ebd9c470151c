/**
 * `cluster consume TOPIC`: the records of one partition from its leader, one value per line.
 * Reads go up to the high watermark only, so a printed record is one every in-sync replica
 * holds. `-d` stops at the end of the log as it was when consuming began; without it the
 * leader holds each empty read open (long poll) until records arrive. When the leader fails or
 * steps down, or does not answer in time (wedged), reading goes on from the next offset at the
 * partition's new leader (withLeader). A reader that goes away (`consume T | head -1`) ends it
 * with exit 0, as it ends `cat`.
 */
import type { Argv } from "yargs";
import { partitionLeader, spuRequest, type PartitionLeader, type RunningCluster } from "./admin.ts";
import { ClusterError, UsageError } from "./errors.ts";
import { locateCluster } from "./locate.ts";
import { withLeader } from "./with-leader.ts";
import { clusterOptions, timeoutOption, type CommonArgs } from "./output.ts";
import { decodeLogFrames } from "./engine/wire/http/records.ts";

/** Bytes of records asked for per request. */
const CONSUME_MAX_BYTES = 4 * 1024 * 1024;
/** How long the leader holds a read that finds nothing new (without `-d`). */
const LONG_POLL_MS = 1_000;
/** How much longer than the long poll a read may take before its leader counts as unreachable. */
const READ_MARGIN_MS = 5_000;
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
}

/** Records read in one request: their values, and the offset of the first. */
export interface ConsumedBatch {
  offset: number;
  values: Uint8Array[];
}

/** Yields batches of records in offset order; ends at the end of the log with `stopAtEnd`, else when `signal` aborts. */
export async function* consumeRecords(options: ConsumeOptions): AsyncGenerator<ConsumedBatch> {
  const cluster = locateCluster(options, "run");
  const partition = options.partition ?? 0;
  let leader = await partitionLeader(cluster, options.topic, partition);
  const from = options.from ?? "end";
  let offset: number | undefined = from === "beginning" ? 0 : from === "end" ? undefined : from;
  let end: number | undefined;
  while (!options.signal?.aborted) {
    const request = {
      topic: options.topic,
      offset,
      waitMs: options.stopAtEnd ? 0 : LONG_POLL_MS,
      cluster,
      signal: options.signal,
    };
    const following = { cluster, topic: options.topic, leader, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_S * 1000, signal: options.signal };
    const answer = await withLeader(following, (current) => read(current, request)).catch((error) => {
      if (options.signal?.aborted) return { value: { values: [], nextOffset: offset ?? 0, highWatermark: 0 }, leader };
      throw error;
    });
    leader = answer.leader;
    const { values, nextOffset, highWatermark } = answer.value;
    end ??= highWatermark;
    if (values.length > 0) yield { offset: nextOffset - values.length, values };
    offset = nextOffset;
    if (options.stopAtEnd && offset >= end) return;
  }
}

/** Every record from the start offset to the end of the log (`stopAtEnd` implied). */
export async function consumeToEnd(options: Omit<ConsumeOptions, "stopAtEnd">): Promise<{ topic: string; partition: number; records: { offset: number; value: string }[] }> {
  const records: { offset: number; value: string }[] = [];
  for await (const batch of consumeRecords({ ...options, stopAtEnd: true })) {
    batch.values.forEach((value, index) => records.push({ offset: batch.offset + index, value: Buffer.from(value).toString("utf8") }));
  }
  return { topic: options.topic, partition: options.partition ?? 0, records };
}

async function read(
  leader: PartitionLeader,
  request: { topic: string; offset: number | undefined; waitMs: number; cluster: RunningCluster; signal?: AbortSignal },
): Promise<{ values: Uint8Array[]; nextOffset: number; highWatermark: number }> {
  const query = new URLSearchParams({ maxBytes: String(CONSUME_MAX_BYTES), waitMs: String(request.waitMs) });
  if (request.offset !== undefined) query.set("offset", String(request.offset));
  try {
    return await spuRequest(leader, `/consume/${encodeURIComponent(request.topic)}/${leader.partition}?${query}`, {
      cluster: request.cluster,
      signal: request.signal,
      // The leader holds the read for waitMs at most; past that (and a margin) it is wedged.
      timeoutMs: request.waitMs + READ_MARGIN_MS,
      parse: (body, headers) => ({
        values: decodeLogFrames(body),
        nextOffset: offsetHeader(headers, "x-next-offset"),
        highWatermark: offsetHeader(headers, "x-high-watermark"),
      }),
    });
  } catch (error) {
    if (!(error instanceof ClusterError) || error.code !== "OFFSET_OUT_OF_RANGE") throw error;
    throw new ClusterError("OFFSET_OUT_OF_RANGE", error.message, {
      hint: `pass an --offset within that range, -B to read from the beginning, or neither to read new records only`,
      cause: error,
    });
  }
}

/** The offset in header `name` of a consume answer; throws when it is missing or not one. */
function offsetHeader(headers: Headers, name: string): number {
  const text = headers.get(name);
  const value = Number(text);
  if (text === null || text === "" || !Number.isInteger(value) || value < 0) throw new Error(`header '${name}' is '${text}', not an offset`);
  return value;
}

/**
 * Writes `values` as lines in one write, waiting when the pipe is full until it drains or
 * `closed` aborts (stdout failed: its reader went away, and no `drain` will ever come).
 */
async function writeLines(values: Uint8Array[], closed: AbortSignal): Promise<void> {
  let total = 0;
  for (const value of values) total += value.byteLength + 1;
  const out = Buffer.allocUnsafe(total);
  let position = 0;
  for (const value of values) {
    out.set(value, position);
    out[position + value.byteLength] = 10;
    position += value.byteLength + 1;
  }
  if (closed.aborted || process.stdout.write(out)) return;
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
      .conflicts("from-beginning", "offset")
      .check((argv) => {
        for (const flag of ["offset", "partition"] as const) {
          const value = argv[flag];
          if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) {
            throw new UsageError(`--${flag} must be a non-negative integer, not '${value}'`);
          }
        }
        if (argv.json && !argv.disableContinuous) throw new UsageError("--json prints one document, so it needs -d (stop at the end of the log)");
        return true;
      })
      .example("$0 consume orders -B -d", "every record of 'orders' partition 0, then exit"),
  handler: async (argv: ConsumeArgs): Promise<number> => {
    const options: ConsumeOptions = {
      home: argv.home,
      name: argv.name,
      topic: argv.topic,
      partition: argv.partition,
      from: argv.offset ?? (argv.fromBeginning ? "beginning" : "end"),
      timeoutMs: argv.timeout * 1000,
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
      for await (const batch of consumeRecords({ ...options, stopAtEnd: argv.disableContinuous, signal: stop.signal })) {
        await writeLines(batch.values, closed.signal);
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
