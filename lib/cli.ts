/**
 * The `cluster` command's table of contents: the verbs, and the one place that turns results
 * and errors into output and exit codes (0 ok, 1 failure, 2 usage; `status` 0/1/3/4).
 * `cluster.ts`, the bin, runs `main` from the bytecode cache or from here.
 *
 * NOTE: start-up time is most of what a user waits for on `status`, so this file loads only
 * the module of the verb being run. Its common command lines are parsed by lib/startup/fast-argv.ts;
 * yargs (about 45 ms to load) parses everything else: help, completion, errors, and the verbs
 * with positionals or subcommands.
 */
import packageJson from "../package.json" with { type: "json" };
import { recordRunMode, type RunMode } from "./startup/run-mode.ts";
import { ClusterError, UsageError } from "./base/errors.ts";
import { fastArgv, type CommandModule, type ParsedArgv } from "./startup/fast-argv.ts";
import { GLOBAL_OPTIONS } from "./terminal/output.ts";

const SCRIPT_NAME = "cluster";

/** Every verb, in the order `cluster --help` lists them, each loaded only when needed. */
const COMMANDS: { verb: string; load: () => Promise<CommandModule> }[] = [
  { verb: "create", load: async () => (await import("./commands/create.ts")).createCommand },
  { verb: "shutdown", load: async () => (await import("./commands/shutdown.ts")).shutdownCommand },
  { verb: "resume", load: async () => (await import("./commands/resume.ts")).resumeCommand },
  { verb: "delete", load: async () => (await import("./commands/delete.ts")).deleteCommand },
  { verb: "status", load: async () => (await import("./commands/status.ts")).statusCommand },
  { verb: "list", load: async () => (await import("./commands/list.ts")).listCommand },
  { verb: "spu", load: async () => (await import("./commands/spu.ts")).spuCommand },
  { verb: "topic", load: async () => (await import("./commands/topic.ts")).topicCommand },
  { verb: "produce", load: async () => (await import("./commands/produce.ts")).produceCommand },
  { verb: "consume", load: async () => (await import("./commands/consume.ts")).consumeCommand },
  { verb: "consumer", load: async () => (await import("./commands/consumer.ts")).consumerCommand },
  { verb: "logs", load: async () => (await import("./commands/logs.ts")).logsCommand },
  { verb: "diagnostics", load: async () => (await import("./commands/diagnostics.ts")).diagnosticsCommand },
  { verb: "completion", load: async () => (await import("./commands/completion.ts")).completionCommand },
  { verb: "__complete", load: async () => (await import("./commands/completion.ts")).completeCommand },
];

/**
 * Runs the CLI on `args` and resolves to the exit code. `mode` is how cluster.ts runs it (from
 * the bytecode cache or the sources), which the daemons it starts follow and `status` reports.
 */
export async function main(args: string[], mode?: RunMode): Promise<number> {
  if (mode) recordRunMode(mode);
  try {
    const fast = await parseFast(args);
    if (fast) return (await fast.command.handler(fast.argv as never)) ?? 0;
    let exitCode = 0;
    const parser = await createParser(args, async (command, argv) => {
      exitCode = (await command.handler(argv as never)) ?? 0;
    });
    await parser.parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error, args.includes("--json"));
  }
}

/** The verb's module and its argv when lib/startup/fast-argv.ts reads `args` with certainty. */
async function parseFast(args: string[]): Promise<{ command: CommandModule; argv: ParsedArgv } | undefined> {
  const entry = COMMANDS.find((candidate) => candidate.verb === args[0]);
  if (!entry) return undefined;
  const command = await entry.load();
  const argv = fastArgv(args, command, GLOBAL_OPTIONS, SCRIPT_NAME);
  return argv && { command, argv };
}

/** The yargs parser of the whole command surface; `run` is called with the chosen command and its argv. */
export async function createParser(args: string[], run: (command: CommandModule, argv: ParsedArgv) => Promise<void>) {
  const [{ default: yargs }, { closestFlag }, commands] = await Promise.all([
    import("yargs"),
    import("./commands/completion.ts"),
    Promise.all(COMMANDS.map((entry) => entry.load())),
  ]);
  /** "Unknown argument: spsu" becomes "Unknown argument: spsu (did you mean --spus?)". */
  const withFlagSuggestion = (message: string): string => {
    const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(", ")[0];
    const suggestion = unknown === undefined ? undefined : closestFlag(args, unknown);
    return suggestion ? `${message} (did you mean ${suggestion}?)` : message;
  };
  const parser = yargs(args)
    .scriptName(SCRIPT_NAME)
    .version(packageJson.version)
    .option("json", GLOBAL_OPTIONS.json)
    .option("quiet", GLOBAL_OPTIONS.quiet)
    .strict()
    .recommendCommands()
    .demandCommand(1, "name a command; 'cluster --help' lists them")
    // yargs reports its own validation failures as a message only: those are usage errors.
    .fail((message, error) => {
      throw error ?? new UsageError(withFlagSuggestion(message));
    })
    .wrap(null);
  for (const command of commands) {
    parser.command({ ...command, handler: (argv: ParsedArgv) => run(command, argv) } as never);
  }
  return parser;
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
    console.log(JSON.stringify({ error: { ...details, code, message: error.message, hint } }, null, 2));
  } else {
    console.error(`error: ${error.message}${hint ? `
hint: ${hint}` : ""}`);
  }
  return isUsage ? 2 : 1;
}

