/**
 * `cluster consumer list|delete`: the offsets named consumers committed (`consume --consumer`,
 * or any Fluvio client's offset consumer), as the SPU leading Fluvio's consumer-offset
 * partition keeps them; Fluvio's `fluvio consumer list|delete`. A deleted consumer starts
 * again where `consume` starts without one.
 */
import type { Argv } from "yargs";
import { deleteConsumerOffset, listConsumerOffsets, type ConsumerOffsetView } from "../fluvio/admin.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { locateCluster } from "../cluster/locate.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";

/** Every consumer offset the cluster keeps, sorted by consumer, topic and partition. */
export async function listClusterConsumers(options: { home?: string; name?: string }): Promise<ConsumerOffsetView[]> {
  return listConsumerOffsets(locateCluster(options, "run"));
}

/**
 * Deletes the offsets of `consumer`: all of them, those of `topic`, or of one `partition` of it;
 * returns those deleted. Throws NO_CONSUMER when none matched.
 */
export async function deleteClusterConsumer(options: {
  home?: string;
  name?: string;
  consumer: string;
  topic?: string;
  partition?: number;
}): Promise<{ deleted: ConsumerOffsetView[] }> {
  const cluster = locateCluster(options, "run");
  const matching = (await listConsumerOffsets(cluster, { consumer: options.consumer })).filter(
    (entry) => (options.topic === undefined || entry.topic === options.topic) && (options.partition === undefined || entry.partition === options.partition),
  );
  if (matching.length === 0) {
    const where = options.topic === undefined ? "" : ` on '${options.topic}'${options.partition === undefined ? "" : ` partition ${options.partition}`}`;
    throw new ClusterError("NO_CONSUMER", `consumer '${options.consumer}' has no offsets${where} in cluster '${cluster.paths.name}'`, {
      hint: `'cluster consumer list --name ${cluster.paths.name}' shows the consumers and their offsets`,
    });
  }
  for (const entry of matching) await deleteConsumerOffset(cluster, options.consumer, { topic: entry.topic, partition: entry.partition });
  return { deleted: matching };
}

/** How long ago `seconds` (since the epoch) was, as Fluvio's `consumer list` shows it: "5s", "3m 2s", "1h 4m". */
export function formatAge(seconds: number, nowSeconds = Date.now() / 1000): string {
  let left = Math.max(0, Math.floor(nowSeconds - seconds));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60]] as const) {
    if (left < size) continue;
    parts.push(`${Math.floor(left / size)}${unit}`);
    left %= size;
  }
  if (left > 0 || parts.length === 0) parts.push(`${left}s`);
  return parts.slice(0, 2).join(" ");
}

/** One row per consumer offset: consumer, topic, partition, offset, and how long ago it was committed. */
export function formatConsumerList(consumers: ConsumerOffsetView[], nowSeconds = Date.now() / 1000): string {
  if (consumers.length === 0) return "no consumers";
  const header = ["CONSUMER", "TOPIC", "PARTITION", "OFFSET", "LAST SEEN"];
  const rows = consumers.map((entry) => [entry.consumer, entry.topic, String(entry.partition), String(entry.offset), `${formatAge(entry.modifiedTime, nowSeconds)} ago`]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

interface ConsumerArgs extends CommonArgs {
  consumer: string;
  topic?: string;
  partition?: number;
}

/** The `consumer` command module with its list and delete subcommands. */
export const consumerCommand = {
  command: "consumer <command>",
  describe: "List and delete the offsets named consumers committed",
  builder: (yargs: Argv) =>
    yargs
      .command({
        command: "list",
        describe: "List each named consumer's committed offset per partition",
        builder: (inner: Argv) => clusterOptions(inner).example("$0 consumer list --json", "every consumer offset, as JSON"),
        handler: async (argv: CommonArgs) => printResult(argv, await listClusterConsumers(argv), formatConsumerList),
      })
      .command({
        command: "delete <consumer>",
        describe: "Delete a consumer's offsets, so it starts over",
        builder: (inner: Argv) =>
          clusterOptions(inner)
            .positional("consumer", { type: "string", demandOption: true, describe: "Consumer name" })
            .option("topic", { type: "string", describe: "Only its offsets on this topic" })
            .option("partition", { type: "number", describe: "Only its offset on this partition of that topic" })
            .check((argv) => {
              if (argv.partition !== undefined && argv.topic === undefined) throw new UsageError("--partition needs --topic: name the topic whose partition it is");
              if (argv.partition !== undefined && !(Number.isInteger(argv.partition) && argv.partition >= 0)) {
                throw new UsageError(`--partition must be a non-negative integer, not '${argv.partition}'`);
              }
              return true;
            })
            .example("$0 consumer delete billing --topic orders --partition 0", "'billing' starts over on 'orders' partition 0"),
        handler: async (argv: ConsumerArgs) =>
          printResult(argv, await deleteClusterConsumer(argv), (result) =>
            result.deleted.map((entry) => `deleted the offset of consumer '${entry.consumer}' on '${entry.topic}' partition ${entry.partition} (it was at ${entry.offset})`).join("\n"),
          ),
      })
      .demandCommand(1, "name a subcommand: list or delete"),
  handler: () => {},
};
