/**
 * `cluster topic create|list|delete`: topics through the SC's admin API. The SC places the
 * replicas and refuses what it cannot honour (a replication beyond the online SPUs, a name
 * Kafka would refuse); this verb adds the command that fixes it to each refusal.
 */
import type { Argv } from "yargs";
import { createTopic, deleteTopic, listPartitions, listTopics, type PartitionView } from "../fluvio/admin.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { locateCluster } from "../cluster/locate.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";
import { MAX_TOPIC_NAME_LENGTH } from "../engine/model/mod.ts";

/** One topic and where its partitions are. */
export interface TopicSummary {
  name: string;
  partitions: number;
  replication: number;
  placement: Pick<PartitionView, "partition" | "leader" | "replicas" | "isr">[];
}

/** Creates topic `topic` with `partitions` partitions (default 1) of `replication` replicas (default 1). */
export async function createClusterTopic(options: {
  home?: string;
  name?: string;
  topic: string;
  partitions?: number;
  replication?: number;
  /** The codec every produced batch must be compressed with, as Fluvio's `--compression-type` (default any). */
  compressionType?: TopicCompression;
}): Promise<TopicSummary> {
  const cluster = locateCluster(options, "run");
  const name = cluster.paths.name;
  try {
    const topic = { name: options.topic, partitions: options.partitions ?? 1, replication: options.replication ?? 1, compressionType: options.compressionType };
    const placed = await createTopic(cluster.admin, topic);
    return summarize(topic.name, topic.partitions, topic.replication, placed);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    const hints: Partial<Record<string, string>> = {
      TOPIC_EXISTS: `'cluster topic delete ${options.topic} --name ${name}' removes it with its records`,
      INSUFFICIENT_SPUS: `lower --replication, or add SPUs: 'cluster delete --name ${name}' then 'cluster create --spus N --name ${name}'`,
      TOPIC_INVALID: `use 1 to ${MAX_TOPIC_NAME_LENGTH} letters, digits, '.', '_' or '-' (not '.' or '..'), at least 1 partition and replication`,
    };
    throw new ClusterError(error.code, error.message, { hint: hints[error.code] ?? error.hint, cause: error });
  }
}

/** Every topic with its partitions' leaders, replicas and in-sync sets. */
export async function listClusterTopics(options: { home?: string; name?: string }): Promise<TopicSummary[]> {
  const cluster = locateCluster(options, "run");
  const [topics, partitions] = await Promise.all([listTopics(cluster.admin), listPartitions(cluster.admin)]);
  return topics.map((topic) =>
    summarize(
      topic.name,
      topic.partitions,
      topic.replication,
      partitions.filter((partition) => partition.topic === topic.name),
    ),
  );
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

function summarize(name: string, partitions: number, replication: number, views: PartitionView[]): TopicSummary {
  return {
    name,
    partitions,
    replication,
    placement: views.map(({ partition, leader, replicas, isr }) => ({ partition, leader, replicas, isr })),
  };
}

/** One row per topic: name, partitions, replication and each partition's leader. */
export function formatTopicList(topics: TopicSummary[]): string {
  if (topics.length === 0) return "no topics";
  const rows = topics.map((topic) => [
    topic.name,
    String(topic.partitions),
    String(topic.replication),
    topic.placement.map((partition) => `${partition.partition}:${partition.leader}`).join(" "),
  ]);
  const header = ["NAME", "PARTITIONS", "REPLICATION", "LEADERS (partition:SPU)"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

function formatCreated(topic: TopicSummary): string {
  const leaders = topic.placement.map((partition) => `${partition.partition} on SPU ${partition.leader}`).join(", ");
  return `topic '${topic.name}' created: ${topic.partitions} partition(s), replication ${topic.replication}; leaders: ${leaders}`;
}

interface TopicArgs extends CommonArgs {
  topic: string;
  partitions?: number;
  replication?: number;
  compressionType?: TopicCompression;
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
  describe: "Create, list and delete topics",
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
            // yargs reads `--partitions abc` as NaN, which JSON would carry to the SC as null.
            .check((argv) => ensureCount("partitions", argv.partitions) && ensureCount("replication", argv.replication))
            .example("$0 topic create orders --partitions 2 --replication 3", "2 partitions, each on 3 SPUs"),
        handler: async (argv: TopicArgs) => printResult(argv, await createClusterTopic({ ...argv, topic: argv.topic }), formatCreated),
      })
      .command({
        command: "list",
        describe: "List topics with their partitions' leaders",
        builder: (inner: Argv) => clusterOptions(inner).example("$0 topic list --json", "every topic with its partitions, as JSON"),
        handler: async (argv: CommonArgs) => printResult(argv, await listClusterTopics(argv), formatTopicList),
      })
      .command({
        command: "delete <topic>",
        describe: "Delete a topic and all of its records",
        builder: (inner: Argv) => topicArgument(inner).example("$0 topic delete orders", "remove 'orders' and its data from every SPU"),
        handler: async (argv: TopicArgs) =>
          printResult(argv, await deleteClusterTopic(argv), (result) => `topic '${result.deleted}' deleted`),
      })
      .demandCommand(1, "name a subcommand: create, list or delete")
      .example("$0 topic create repltopic --replication 3", "one partition on three SPUs"),
  handler: () => {},
};
