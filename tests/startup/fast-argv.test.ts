/**
 * The fast argv path against yargs itself: for every command line it reads, the argv it builds
 * is the argv yargs hands the same handler; everything else it leaves to yargs.
 */
import { describe, expect, test } from "bun:test";
import { createParser } from "../../lib/cli.ts";
import { fastArgv, type CommandModule, type ParsedArgv } from "../../lib/startup/fast-argv.ts";
import { GLOBAL_OPTIONS } from "../../lib/terminal/output.ts";
import { completeCommand } from "../../lib/commands/completion.ts";
import { consumeCommand } from "../../lib/commands/consume.ts";
import { createCommand } from "../../lib/commands/create.ts";
import { diagnosticsCommand } from "../../lib/commands/diagnostics.ts";
import { logsCommand } from "../../lib/commands/logs.ts";
import { produceCommand } from "../../lib/commands/produce.ts";
import { resumeCommand } from "../../lib/commands/resume.ts";
import { shutdownCommand } from "../../lib/commands/shutdown.ts";
import { statusCommand } from "../../lib/commands/status.ts";
import { topicCommand } from "../../lib/commands/topic.ts";

/** The modules of the verbs whose command lines fastArgv() must leave to yargs. */
const MODULES: Record<string, CommandModule> = {
  status: statusCommand,
  create: createCommand,
  resume: resumeCommand,
  shutdown: shutdownCommand,
  logs: logsCommand,
  topic: topicCommand,
  produce: produceCommand,
  consume: consumeCommand,
  diagnostics: diagnosticsCommand,
  __complete: completeCommand,
};

/** The command yargs chooses for `args` and the argv it hands that command's handler. */
async function parseWithYargs(args: string[]): Promise<{ command: CommandModule; argv: ParsedArgv }> {
  let chosen: { command: CommandModule; argv: ParsedArgv } | undefined;
  const parser = await createParser(args, async (command, argv) => {
    chosen = { command, argv };
  });
  await parser.parseAsync();
  if (!chosen) throw new Error(`yargs ran no command for ${JSON.stringify(args)}`);
  return chosen;
}

describe("fastArgv()", () => {
  test.each([
    [["status"]],
    [["status", "--json"]],
    [["status", "--home", "/tmp/h", "--name", "dev"]],
    [["status", "--name=dev", "--quiet", "--home=/tmp/a=b"]],
    [["create", "--spus", "3"]],
    [["create", "--spus", "3", "--port-base", "19000", "--timeout", "5", "--json"]],
    [["create", "--spec", "specs/three-spus.yaml", "--name", "qa"]],
    [["create", "--dry-run", "--timeout", "0.5"]],
    [["shutdown"]],
    [["shutdown", "--timeout", "0", "--dry-run", "--json"]],
    [["resume"]],
    [["resume", "--timeout", "10", "--name", "x", "--quiet"]],
    [["delete"]],
    [["delete", "--dry-run", "--home", "/tmp/h"]],
    [["list", "--home", "/tmp/h", "--json"]],
    [["completion"]],
    [["produce", "orders"]],
    [["produce", "orders", "--compression", "zstd", "--partition", "2", "--name", "dev"]],
    [["produce", "--timeout", "3", "123"]],
    [["consume", "orders", "-B", "-d"]],
    [["consume", "-d", "orders", "--from-beginning"]],
    [["consume", "orders", "--offset", "5", "--disable-continuous", "--partition", "1", "--json"]],
    [["consume", "orders", "-B", "-d", "--consumer", "billing", "--home", "/tmp/h"]],
  ])("fastArgv(%j) builds the argv yargs builds", async (args) => {
    const viaYargs = await parseWithYargs(args);
    expect(fastArgv(args, viaYargs.command, GLOBAL_OPTIONS, "cluster")).toEqual(viaYargs.argv);
  });

  test.each([
    [["status", "--help"]],
    [["status", "-h"]],
    [["status", "--version"]],
    [["status", "extra"]],
    [["status", "--jsno"]],
    [["status", "--name", "a", "--name", "b"]],
    [["status", "--json=false"]],
    [["status", "--no-json"]],
    [["status", "--name"]],
    [["status", "--name", ""]],
    [["status", "--name", "-x"]],
    [["status", "--", "x"]],
    [["create", "--spus", "abc"]],
    [["create", "--spus", "010"]],
    [["create", "--spus", "1e1"]],
    [["create", "--timeout", "-1"]],
    [["create", "--portBase", "19000"]],
    [["resume", "--spus", "3"]],
    [["shutdown", "--timeout", "NaN"]],
    [["logs", "sc"]],
    [["topic", "list"]],
    [["diagnostics", "-o", "report.tar.gz"]],
    [["produce"]],
    [["produce", "a", "b"]],
    [["produce", "orders", "--compression", "brotli"]],
    [["produce", "orders", "--compression"]],
    [["produce", "orders", "-p", "1"]],
    [["consume", "orders", "-Bd"]],
    [["consume", "orders", "-B", "-B"]],
    [["consume", "orders", "-B", "--from-beginning"]],
    [["consume", "orders", "-B", "--offset", "3"]],
    [["consume", "orders", "--json"]],
    [["consume", "orders", "-x"]],
    [["consume", "-1"]],
    [["consume", "orders", "--", "-B"]],
    [["__complete", "1", "--", "cluster", "st"]],
  ])("fastArgv(%j) leaves the command line to yargs", (args) => {
    expect(fastArgv(args, MODULES[args[0]!]!, GLOBAL_OPTIONS, "cluster")).toBeUndefined();
  });

  test("fastArgv() leaves a command line to yargs when a check of the verb fails", () => {
    const failing: CommandModule = {
      ...statusCommand,
      builder: (yargs) =>
        yargs.option("name", { type: "string" }).check(() => {
          throw new Error("the check says no");
        }),
    };
    expect(fastArgv(["status", "--name", "dev"], failing, GLOBAL_OPTIONS, "cluster")).toBeUndefined();
  });

  test("fastArgv() leaves a verb to yargs when its builder declares what the fast path does not read", () => {
    const coerced: CommandModule = { ...statusCommand, builder: (yargs) => yargs.option("name", { type: "string", coerce: (name: string) => name.trim() }) };
    expect(fastArgv(["status", "--name", "dev"], coerced, GLOBAL_OPTIONS, "cluster")).toBeUndefined();
    const optional: CommandModule = { ...statusCommand, command: "status [name]", builder: (yargs) => yargs.option("verbose", { type: "boolean" }) };
    expect(fastArgv(["status"], optional, GLOBAL_OPTIONS, "cluster")).toBeUndefined();
  });
});
