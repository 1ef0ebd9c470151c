/**
 * `cluster topic create|list|delete|add-partition`: topics through the SC's admin API. The SC places the
 * replicas and refuses what it cannot honour (a replication beyond the online SPUs, a name
 * Kafka would refuse, a retention shorter than Fluvio's minimum); this verb adds the command
 * that fixes it to each refusal. The storage flags are spelled as Fluvio's `topic create`
 * spells them and take its value formats: durations as `1h` or `2d 10s` (humantime), sizes
 * as `2048`, `1 KB` or `10 MiB` (bytesize).
 */
import type { Argv } from "yargs";
import { addPartitions, createTopic, deleteTopic, listPartitions, listTopics, type PartitionView, type TopicSettings, type TopicView } from "../fluvio/admin.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { locateCluster } from "../cluster/locate.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";
import { DEFAULT_SEGMENT_BYTES, MAX_TOPIC_NAME_LENGTH, MIN_RETENTION_SECONDS } from "../engine/model/mod.ts";

/** One topic, its settings (null where unset: the default) and where its partitions are. */
export interface TopicSummary extends TopicView {
  placement: Pick<PartitionView, "partition" | "leader" | "replicas" | "isr">[];
}

/** Creates topic `topic` with `partitions` partitions (default 1) of `replication` replicas (default 1), and the settings given. */
export async function createClusterTopic(
  options: {
    home?: string;
    name?: string;
    topic: string;
    partitions?: number;
    replication?: number;
  } & TopicSettings,
): Promise<TopicSummary> {
  const cluster = locateCluster(options, "run");
  const name = cluster.paths.name;
  try {
    const { retentionSeconds, segmentSize, maxPartitionSize, compressionType, system } = options;
    const topic = { name: options.topic, partitions: options.partitions ?? 1, replication: options.replication ?? 1, retentionSeconds, segmentSize, maxPartitionSize, compressionType, system };
    const placed = await createTopic(cluster.admin, topic);
    const view = (await listTopics(cluster.admin, { system })).find((entry) => entry.name === topic.name);
    if (!view) throw new ClusterError("ADMIN_ERROR", `the SC created topic '${topic.name}' but does not list it`);
    return { ...view, placement: placementOf(placed) };
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    const hints: Partial<Record<string, string>> = {
      TOPIC_EXISTS: `'cluster topic delete ${options.topic} --name ${name}' removes it with its records`,
      INSUFFICIENT_SPUS: `lower --replication, or add SPUs: 'cluster delete --name ${name}' then 'cluster create --spus N --name ${name}'`,
      TOPIC_INVALID: /retention|segment|partition size/.test(error.message)
        ? `give --retention-time of at least ${MIN_RETENTION_SECONDS}s, --segment-size of at least 1 KiB, and --max-partition-size of at least twice 1 KiB and no less than the segment size`
        : `use 1 to ${MAX_TOPIC_NAME_LENGTH} letters, digits, '.', '_' or '-' (not '.' or '..'), at least 1 partition and replication`,
    };
    throw new ClusterError(error.code, error.message, { hint: hints[error.code] ?? error.hint, cause: error });
  }
}

/** Every topic (the system topics instead, with `system`) with its settings and its partitions' leaders, replicas and in-sync sets. */
export async function listClusterTopics(options: { home?: string; name?: string; system?: boolean }): Promise<TopicSummary[]> {
  const cluster = locateCluster(options, "run");
  const system = options.system ?? false;
  const [topics, partitions] = await Promise.all([listTopics(cluster.admin, { system }), listPartitions(cluster.admin, undefined, { system })]);
  return topics.map((topic) => ({ ...topic, placement: placementOf(partitions.filter((partition) => partition.topic === topic.name)) }));
}

/** Deletes topic `topic` and every record of it. */
export async function deleteClusterTopic(options: { home?: string; name?: string; topic: string }): Promise<{ deleted: string }> {
  const cluster = locateCluster(options, "run");
  try {
    await deleteTopic(cluster.admin, options.topic);
  } catch (error) {
    if (!(error instanceof ClusterError) || error.code !== "NO_TOPIC") throw error;
    throw new ClusterError("NO_TOPIC", error.message, {
      hint: `'cluster topic list --name ${cluster.paths.name}' shows the topics`,
      cause: error,
    });
  }
  return { deleted: options.topic };
}

/** A topic after partitions were added to it, and the partitions added. */
export interface GrownTopic extends TopicSummary {
  added: TopicSummary["placement"];
}

/**
 * Adds `count` partitions (default 1) to topic `topic`, placed as a create places them, with the
 * topic's replication and settings; its other partitions and their records are untouched.
 */
export async function addTopicPartitions(options: { home?: string; name?: string; topic: string; count?: number }): Promise<GrownTopic> {
  const cluster = locateCluster(options, "run");
  const name = cluster.paths.name;
  const count = options.count ?? 1;
  try {
    const placed = await addPartitions(cluster.admin, options.topic, count);
    const view = (await listTopics(cluster.admin)).find((entry) => entry.name === options.topic);
    if (!view) throw new ClusterError("ADMIN_ERROR", `the SC added partitions to topic '${options.topic}' but does not list it`);
    const placement = placementOf(placed);
    // The SC numbers added partitions after the last, so they are the last `count` listed.
    return { ...view, placement, added: placement.slice(Math.max(placement.length - count, 0)) };
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    const refusals: Partial<Record<string, { message?: string; hint: string }>> = {
      NO_TOPIC: {
        message: `topic '${options.topic}' does not exist`,
        hint: `'cluster topic list --name ${name}' shows the topics; 'cluster topic create ${options.topic} --name ${name}' makes it`,
      },
      SYSTEM_TOPIC: {
        message: `'${options.topic}' is a system topic: its partitions are Fluvio's to set`,
        hint: `add partitions to a topic of your own; 'cluster topic list --name ${name}' shows them`,
      },
      INSUFFICIENT_SPUS: { hint: `the topic's replication needs that many SPUs online: 'cluster status --name ${name}' shows which are down, 'cluster resume --name ${name}' starts them` },
      TOPIC_INVALID: { hint: "give a smaller --count" },
    };
    const refusal = refusals[error.code];
    throw new ClusterError(error.code, refusal?.message ?? error.message, { hint: refusal?.hint ?? error.hint, cause: error });
  }
}

function placementOf(views: PartitionView[]): TopicSummary["placement"] {
  return views.map(({ partition, leader, replicas, isr }) => ({ partition, leader, replicas, isr }));
}

const DURATION_UNITS: Record<string, number> = {
  nsec: 1e-9, ns: 1e-9, usec: 1e-6, us: 1e-6, msec: 1e-3, ms: 1e-3,
  seconds: 1, second: 1, sec: 1, secs: 1, s: 1,
  minutes: 60, minute: 60, min: 60, mins: 60, m: 60,
  hours: 3600, hour: 3600, hr: 3600, hrs: 3600, h: 3600,
  days: 86_400, day: 86_400, d: 86_400,
  weeks: 604_800, week: 604_800, w: 604_800,
  months: 2_630_016, month: 2_630_016, M: 2_630_016,
  years: 31_557_600, year: 31_557_600, y: 31_557_600,
};

/**
 * Whole seconds of a duration as Fluvio's CLI reads `--retention-time` (humantime: `1h`,
 * `2d 10s`, `7 days`; a month is 30.44 days, a year 365.25), rounded down; throws a
 * UsageError naming the format.
 */
export function parseDuration(text: string, flag = "retention-time"): number {
  const parts = [...text.trim().matchAll(/(\d+)\s*([a-zA-Z]+)\s*/gy)];
  const consumed = parts.reduce((length, part) => length + part[0].length, 0);
  if (parts.length === 0 || consumed !== text.trim().length || parts.some((part) => DURATION_UNITS[part[2]!] === undefined)) {
    throw new UsageError(`--${flag} takes a duration such as '1h', '2d 10s' or '7 days' (units s, m, h, d, w), not '${text}'`);
  }
  return Math.floor(parts.reduce((seconds, part) => seconds + Number(part[1]) * DURATION_UNITS[part[2]!]!, 0) + 1e-9);
}

const BYTE_UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, ki: 2 ** 10, kib: 2 ** 10,
  m: 1e6, mb: 1e6, mi: 2 ** 20, mib: 2 ** 20,
  g: 1e9, gb: 1e9, gi: 2 ** 30, gib: 2 ** 30,
  t: 1e12, tb: 1e12, ti: 2 ** 40, tib: 2 ** 40,
  p: 1e15, pb: 1e15, pi: 2 ** 50, pib: 2 ** 50,
};

/** Bytes of a size as Fluvio's CLI reads `--segment-size` (bytesize: `2048`, `1 KB` = 1000, `2 Ki` or `10 MiB`); throws a UsageError naming the format. */
export function parseByteSize(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match && BYTE_UNITS[match[2]!.toLowerCase()];
  if (!match || unit === undefined || unit === null) {
    throw new UsageError(`--${flag} takes a size such as '2048', '1 KB', '2 Ki' or '10 MiB', not '${text}'`);
  }
  return Math.floor(Number(match[1]) * unit);
}

/** A duration in seconds the way humantime prints one: `1d 2h`, `10s`. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  return parts.length > 0 ? parts.join(" ") : "0s";
}

/** A size in bytes in the largest unit that divides it: `1 KiB`, `10 MB`, `1500 B`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["PiB", 2 ** 50], ["PB", 1e15], ["TiB", 2 ** 40], ["TB", 1e12], ["GiB", 2 ** 30], ["GB", 1e9], ["MiB", 2 ** 20], ["MB", 1e6], ["KiB", 2 ** 10], ["KB", 1e3]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} B`;
}

/** A topic's settings as they apply, the defaults included: retention, segment size, largest partition, compression. */
export function describeSettings(topic: Pick<TopicView, "retentionSeconds" | "segmentSize" | "maxPartitionSize" | "compressionType">): string[] {
  return [
    topic.retentionSeconds === null ? "forever" : formatDuration(topic.retentionSeconds),
    formatBytes(topic.segmentSize ?? DEFAULT_SEGMENT_BYTES),
    topic.maxPartitionSize === null ? "unlimited" : formatBytes(topic.maxPartitionSize),
    topic.compressionType,
  ];
}

/** One row per topic: name, partitions, replication, settings and each partition's leader. */
export function formatTopicList(topics: TopicSummary[]): string {
  if (topics.length === 0) return "no topics";
  const rows = topics.map((topic) => [
    topic.name,
    String(topic.partitions),
    String(topic.replication),
    ...describeSettings(topic),
    topic.placement.map((partition) => `${partition.partition}:${partition.leader}`).join(" "),
  ]);
  const header = ["NAME", "PARTITIONS", "REPLICATION", "RETENTION", "SEGMENT", "MAX-PARTITION", "COMPRESSION", "LEADERS (partition:SPU)"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

function formatCreated(topic: TopicSummary): string {
  const leaders = topic.placement.map((partition) => `${partition.partition} on SPU ${partition.leader}`).join(", ");
  const [retention, segment, maxPartition, compression] = describeSettings(topic);
  return (
    `topic '${topic.name}' created: ${topic.partitions} partition(s), replication ${topic.replication}; ` +
    `retention ${retention}, segments ${segment}, max partition ${maxPartition}, compression ${compression}${topic.system ? ", system" : ""}; leaders: ${leaders}`
  );
}

function formatGrown(topic: GrownTopic): string {
  const rows = topic.added.map((partition) => [String(partition.partition), String(partition.leader), partition.replicas.join(",")]);
  const header = ["PARTITION", "LEADER", "REPLICAS"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const table = [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
  return [`added ${topic.added.length} partition(s) to topic '${topic.name}': now ${topic.partitions} partition(s), replication ${topic.replication}`, ...table].join("\n");
}

interface TopicArgs extends CommonArgs {
  topic: string;
  partitions?: number;
  replication?: number;
  compressionType?: TopicCompression;
  retentionTime?: string;
  segmentSize?: string;
  maxPartitionSize?: string;
  system?: boolean;
}

/** The create's options from its command line: the storage flags parsed as Fluvio's CLI parses them. */
function createOptions(argv: TopicArgs): Parameters<typeof createClusterTopic>[0] {
  return {
    home: argv.home,
    name: argv.name,
    topic: argv.topic,
    partitions: argv.partitions,
    replication: argv.replication,
    compressionType: argv.compressionType,
    retentionSeconds: argv.retentionTime === undefined ? undefined : parseDuration(argv.retentionTime),
    segmentSize: argv.segmentSize === undefined ? undefined : parseByteSize(argv.segmentSize, "segment-size"),
    maxPartitionSize: argv.maxPartitionSize === undefined ? undefined : parseByteSize(argv.maxPartitionSize, "max-partition-size"),
    system: argv.system,
  };
}

/** Fluvio's topic compression types, as its CLI spells them. */
const TOPIC_COMPRESSIONS = ["any", "none", "gzip", "snappy", "lz4", "zstd"] as const;
export type TopicCompression = (typeof TOPIC_COMPRESSIONS)[number];

/** Throws a UsageError unless `value` (of flag `--flag`) is an integer of at least 1. */
function ensureCount(flag: string, value: unknown): true {
  if (Number.isInteger(value) && (value as number) >= 1) return true;
  throw new UsageError(`--${flag} must be an integer of at least 1, not ${Number.isNaN(value) ? "something that is not a number" : `'${value}'`}`);
}

function topicArgument<T>(yargs: Argv<T>) {
  return clusterOptions(yargs).positional("topic", { type: "string", demandOption: true, describe: "Topic name" });
}

/** The `topic` command module with its create, list and delete subcommands. */
export const topicCommand = {
  command: "topic <command>",
  describe: "Create, list, delete and add partitions to topics",
  builder: (yargs: Argv) =>
    yargs
      .command({
        command: "create <topic>",
        describe: "Create a topic; the SC places its replicas on distinct online SPUs",
        builder: (inner: Argv) =>
          topicArgument(inner)
            .option("partitions", { alias: "p", type: "number", default: 1, describe: "Number of partitions" })
            .option("replication", { alias: "r", type: "number", default: 1, describe: "Replicas of each partition (at most the number of SPUs)" })
            .option("compression-type", { choices: TOPIC_COMPRESSIONS, describe: "Codec every produced batch must use; SPUs refuse others (default: any)" })
            .option("retention-time", {
              type: "string",
              describe: `Delete whole segments whose records are all older than this, e.g. '1h', '2d 10s', '7 days' (at least ${MIN_RETENTION_SECONDS}s; default: keep)`,
            })
            .option("segment-size", { type: "string", describe: `Start a new segment past this size, e.g. '2048', '10 MiB', '1 GB' (default: ${formatBytes(DEFAULT_SEGMENT_BYTES)})` })
            .option("max-partition-size", {
              type: "string",
              describe: "Delete the oldest segments while a partition holds more than this, e.g. '10 MiB' (at least the segment size; default: no limit)",
            })
            .option("system", { type: "boolean", hidden: true, describe: "Create a system topic (for Fluvio's own use; listed only with 'topic list --system')" })
            // yargs reads `--partitions abc` as NaN, which JSON would carry to the SC as null.
            .check((argv) => ensureCount("partitions", argv.partitions) && ensureCount("replication", argv.replication))
            .example("$0 topic create orders --partitions 2 --replication 3", "2 partitions, each on 3 SPUs")
            .example("$0 topic create events --retention-time 1h --segment-size '10 MiB'", "records kept for an hour, in 10 MiB segments"),
        handler: async (argv: TopicArgs) => printResult(argv, await createClusterTopic(createOptions(argv)), formatCreated),
      })
      .command({
        command: "list",
        describe: "List topics with their settings and their partitions' leaders",
        builder: (inner: Argv) =>
          clusterOptions(inner)
            .option("system", { type: "boolean", default: false, describe: "List the system topics (Fluvio's consumer-offset) instead" })
            .example("$0 topic list --json", "every topic with its settings and partitions, as JSON"),
        handler: async (argv: CommonArgs & { system?: boolean }) => printResult(argv, await listClusterTopics(argv), formatTopicList),
      })
      .command({
        command: "delete <topic>",
        describe: "Delete a topic and all of its records",
        builder: (inner: Argv) => topicArgument(inner).example("$0 topic delete orders", "remove 'orders' and its data from every SPU"),
        handler: async (argv: TopicArgs) =>
          printResult(argv, await deleteClusterTopic(argv), (result) => `topic '${result.deleted}' deleted`),
      })
      .command({
        command: "add-partition <topic>",
        describe: "Add partitions to a topic, placed as a create places them; the others keep their records",
        builder: (inner: Argv) =>
          topicArgument(inner)
            .option("count", { alias: "c", type: "number", default: 1, describe: "Number of partitions to add" })
            .check((argv) => ensureCount("count", argv.count))
            .example("$0 topic add-partition orders --count 2", "2 more partitions, with the topic's replication"),
        handler: async (argv: TopicArgs & { count: number }) => printResult(argv, await addTopicPartitions({ home: argv.home, name: argv.name, topic: argv.topic, count: argv.count }), formatGrown),
      })
      .demandCommand(1, "name a subcommand: create, list, delete or add-partition")
      .example("$0 topic create repltopic --replication 3", "one partition on three SPUs"),
  handler: () => {},
};
