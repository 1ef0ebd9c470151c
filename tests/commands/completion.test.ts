/**
 * Shell completion: the candidate logic as a table, the verb and flag table checked against
 * the real `--help` of every verb (so it cannot fall behind the CLI), and the printed script
 * sourced in a real bash that completes from a real home.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { closestFlag, COMPLETION_TABLE, completeWords, DIR_DIRECTIVE, FILE_DIRECTIVE, type CompletionSources } from "../../lib/commands/completion.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(17000);

/** A home with clusters 'dev' (SPUs 5001, 5002) and 'qa', answering for the home '/h' only. */
const SOURCES: CompletionSources = {
  clusterNames: (home) => (home === undefined || home === "/h" ? ["dev", "qa"] : []),
  logComponents: (home, name) => (name === "dev" ? ["sc", "spu-5001", "spu-5002"] : name === undefined ? ["sc", "spu-5001"] : []),
};

const VERBS = Object.keys(COMPLETION_TABLE);

describe("completeWords()", () => {
  test.each([
    [["cluster", ""], VERBS],
    [["cluster", "s"], ["shutdown", "status", "spu"]],
    [["cluster", "--j"], ["--json"]],
    [["cluster", "-"], ["--help", "--version", "--json", "--quiet"]],
    [["cluster", "create", "--s"], ["--spus", "--spec"]],
    [["cluster", "create", "--spus", ""], []],
    [["cluster", "create", "--spus", "3", "--p"], ["--port-base", "--profile"]],
    [["cluster", "create", "--spec", "sp"], [FILE_DIRECTIVE]],
    [["cluster", "diagnostics", "-o", ""], [FILE_DIRECTIVE]],
    [["cluster", "status", "--home", "/t"], [DIR_DIRECTIVE]],
    [["cluster", "status", "--name", ""], ["dev", "qa"]],
    [["cluster", "status", "--name", "d"], ["dev"]],
    [["cluster", "status", "--home", "/h", "--name", ""], ["dev", "qa"]],
    [["cluster", "status", "--home", "/elsewhere", "--name", ""], []],
    [["cluster", "status", "--name", "=", "q"], ["qa"]],
    [["cluster", "logs", ""], ["sc", "spu-5001"]],
    [["cluster", "logs", "--name", "dev", ""], ["sc", "spu-5001", "spu-5002"]],
    [["cluster", "logs", "--name", "dev", "spu-"], ["spu-5001", "spu-5002"]],
    [["cluster", "logs", "--name", "=", "dev", "-n", "5", "s"], ["sc", "spu-5001", "spu-5002"]],
    [["cluster", "logs", "sc", ""], []],
    [["cluster", "logs", "--f"], ["--follow"]],
    [["cluster", "spu", ""], ["list", "register", "unregister"]],
    [["cluster", "spu", "unregister", "--"], ["--name", "--home", "--id", "--help", "--json", "--quiet"]],
    [["cluster", "topic", "create", "orders", "--r"], ["--replication", "--retention-time"]],
    [["cluster", "nosuchverb", ""], []],
  ])("completeWords(%j) offers %j", (words, candidates) => {
    expect(completeWords(words, words.length - 1, SOURCES)).toEqual(candidates);
  });

  test("completeWords() completes the word under the cursor, not the last one", () => {
    expect(completeWords(["cluster", "st", "--name", "dev"], 1, SOURCES)).toEqual(["status"]);
  });

  test("completeWords() offers nothing when the home cannot be read", () => {
    const broken: CompletionSources = {
      clusterNames: () => {
        throw new Error("EACCES");
      },
      logComponents: () => {
        throw new Error("EACCES");
      },
    };
    expect(completeWords(["cluster", "logs", "--name", ""], 3, broken)).toEqual([]);
    expect(completeWords(["cluster", "logs", ""], 2, broken)).toEqual([]);
  });
});

/** The verbs (or subcommands) and the long flags that `cluster ...path --help` lists. */
async function helpOf(path: string[]): Promise<{ commands: string[]; flags: string[] }> {
  const help = await $({ quiet: true })`${process.execPath} ${CLI} ${path} --help`;
  const section = (title: string) => help.stdout.split(`${title}:\n`)[1]?.split("\n\n")[0] ?? "";
  const prefix = ["cluster", ...path].join(" ");
  return {
    commands: section("Commands")
      .split("\n")
      .map((line) => line.trim().slice(prefix.length + 1).split(" ")[0]!)
      .filter(Boolean),
    flags: [...section("Options").matchAll(/--[a-z][a-z-]*/g)].map((match) => match[0]),
  };
}

describe("COMPLETION_TABLE", () => {
  const common = new Set(["--help", "--version", "--json", "--quiet"]);
  const own = (flags: string[]) => flags.filter((flag) => !common.has(flag)).sort();

  test("COMPLETION_TABLE has every verb that 'cluster --help' lists", async () => {
    expect((await helpOf([])).commands.sort()).toEqual([...VERBS].sort());
  });

  test("COMPLETION_TABLE has the flags and subcommands of every verb, as its --help lists them", async () => {
    const paths = Object.entries(COMPLETION_TABLE).flatMap(([verb, flags]) =>
      Array.isArray(flags) ? [[verb]] : [[verb], ...Object.keys(flags).map((subcommand) => [verb, subcommand])],
    );
    const helps = await Promise.all(paths.map(helpOf));
    paths.forEach((path, index) => {
      const entry = path.reduce<unknown>((table, key) => (table as Record<string, unknown>)[key], COMPLETION_TABLE);
      const help = helps[index]!;
      if (Array.isArray(entry)) expect({ path, flags: own(help.flags) }).toEqual({ path, flags: [...entry].sort() });
      else expect({ path, subcommands: help.commands.sort() }).toEqual({ path, subcommands: Object.keys(entry as object).sort() });
    });
  });
});

describe("cluster completion", () => {
  test("the printed script, sourced in bash, completes verbs, flags, cluster names and log components from the home", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--name", "dev", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["create", "--name", "qa", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown", "--name", "qa"])).exitCode).toBe(0);

    const script = await cli(home, ["completion"]);
    expect(script.exitCode).toBe(0);
    const scriptFile = join(home, "completion.bash");
    writeFileSync(scriptFile, script.stdout);
    // Each case sets the words as bash would and prints what the completion function offers.
    const program = `
      source "$1"
      offer() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _cluster_completion; echo "\${COMPREPLY[*]}"; }
      complete -p cluster
      offer cluster st
      offer cluster create --sp
      offer cluster logs --name ""
      offer cluster logs --name dev ""
      offer cluster logs --name qa spu
      offer cluster create --spec specs/th
    `;
    const bash = await $({
      quiet: true,
      nothrow: true,
      cwd: join(import.meta.dir, "..", ".."),
      env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: "" },
    })`bash -c ${program} bash ${scriptFile}`;
    expect(bash.stderr).toBe("");
    expect(bash.exitCode).toBe(0);
    expect(bash.stdout.split("\n")).toEqual([
      "complete -F _cluster_completion cluster",
      "status",
      "--spus --spec",
      "dev qa",
      "sc spu-5001 spu-5002",
      "spu-5001",
      "specs/three-spus.yaml",
      "",
    ]);
  });
});

describe("closestFlag()", () => {
  test.each([
    [["create"], "spsu", "--spus"],
    [["create"], "port", "--port-base"],
    [["status"], "jsno", "--json"],
    [["topic", "create", "x"], "replicaton", "--replication"],
    [["resume"], "timout", "--timeout"],
    [["create"], "zzz", undefined],
    [["delete"], "spus", undefined],
  ])("closestFlag(%j, %p) is %p", (args, unknown, suggestion) => {
    expect(closestFlag(args, unknown)).toBe(suggestion);
  });
});

describe("cluster completion --json", () => {
  test("cluster completion --json prints one JSON document holding the script", async () => {
    const result = await cli(tempHome(), ["completion", "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.json.shell).toBe("bash");
    expect(result.json.script).toContain("__complete");
  });
});
