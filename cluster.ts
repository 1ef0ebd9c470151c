#!/usr/bin/env bun
/**
 * The `cluster` command: a table of contents of the verbs, and the one place that turns
 * results and errors into output and exit codes (0 ok, 1 failure, 2 usage; `status` 0/1/3/4).
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import packageJson from "./package.json" with { type: "json" };
import { ClusterError, UsageError } from "./lib/errors.ts";
import { closestFlag, completeCommand, completionCommand } from "./lib/completion.ts";
import { consumeCommand } from "./lib/consume.ts";
import { createCommand } from "./lib/create.ts";
import { deleteCommand } from "./lib/delete.ts";
import { diagnosticsCommand } from "./lib/diagnostics.ts";
import { listCommand } from "./lib/list.ts";
import { logsCommand } from "./lib/logs.ts";
import { produceCommand } from "./lib/produce.ts";
import { resumeCommand } from "./lib/resume.ts";
import { shutdownCommand } from "./lib/shutdown.ts";
import { spuCommand } from "./lib/spu.ts";
import { statusCommand } from "./lib/status.ts";
import { topicCommand } from "./lib/topic.ts";

const COMMANDS = [
  createCommand,
  shutdownCommand,
  resumeCommand,
  deleteCommand,
  statusCommand,
  listCommand,
  spuCommand,
  topicCommand,
  produceCommand,
  consumeCommand,
  logsCommand,
  diagnosticsCommand,
  completionCommand,
  completeCommand,
];

/** Runs the CLI on `args` and resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(args)
    .scriptName("cluster")
    .version(packageJson.version)
    .option("json", { type: "boolean", global: true, describe: "Print exactly one JSON document on stdout" })
    .option("quiet", { type: "boolean", global: true, describe: "Print only errors (the exit code tells the rest)" })
    .strict()
    .recommendCommands()
    .demandCommand(1, "name a command; 'cluster --help' lists them")
    // yargs reports its own validation failures as a message only: those are usage errors.
    .fail((message, error) => {
      throw error ?? new UsageError(withFlagSuggestion(message, args));
    })
    .wrap(null);
  for (const { handler, ...command } of COMMANDS) {
    parser.command({
      ...command,
      handler: async (argv: never) => {
        exitCode = (await (handler as (argv: never) => Promise<number | void>)(argv)) ?? 0;
      },
    } as never);
  }
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error, args.includes("--json"));
  }
}

/** "Unknown argument: spsu" becomes "Unknown argument: spsu (did you mean --spus?)". */
function withFlagSuggestion(message: string, args: string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(", ")[0];
  const suggestion = unknown === undefined ? undefined : closestFlag(args, unknown);
  return suggestion ? `${message} (did you mean ${suggestion}?)` : message;
}

function reportError(error: unknown, json: boolean): number {
  const isUsage = error instanceof UsageError;
  if (!isUsage && !(error instanceof ClusterError)) {
    console.error(error);
    return 1;
  }
  const code = error instanceof ClusterError ? error.code : "USAGE";
  const hint = error instanceof ClusterError ? error.hint : "run 'cluster --help' or 'cluster <command> --help'";
  if (json) {
    const details = error instanceof ClusterError ? error.details : {};
    process.stdout.write(`${JSON.stringify({ error: { ...details, code, message: error.message, hint } }, null, 2)}\n`);
  } else {
    process.stderr.write(`error: ${error.message}\n${hint ? `hint: ${hint}\n` : ""}`);
  }
  return isUsage ? 2 : 1;
}

if (import.meta.main) {
  process.exitCode = await main(hideBin(process.argv));
}
