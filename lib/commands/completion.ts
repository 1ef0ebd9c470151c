/**
 * `cluster completion`: a bash (and zsh, through bashcompinit) completion script. The script
 * is a thin shim, as kubectl's and cobra's are: on every Tab it asks the CLI itself, through the
 * hidden `cluster __complete`, so cluster names and log components come from the real home
 * and the logic lives here, in TypeScript, where a table test can reach it.
 */
import { fileURLToPath } from "node:url";
import type { Argv } from "yargs";
import { listClusterNames, resolveHome } from "../cluster/home.ts";
import { locateCluster } from "../cluster/locate.ts";
import { listLogComponents } from "./logs.ts";

/** A verb's long flags, or its subcommands' flags. */
type VerbFlags = string[] | Record<string, string[]>;

const CLUSTER_FLAGS = ["--name", "--home"];
const COMMON_FLAGS = ["--help", "--json", "--quiet"];
const TOP_LEVEL_FLAGS = ["--help", "--version", "--json", "--quiet"];

/**
 * Every visible verb and its flags, as `cluster <verb> --help` lists them (without the common
 * ones). tests/completion.test.ts compares this table with the real help of every verb, so a
 * new verb or flag fails a test until it is added here.
 */
export const COMPLETION_TABLE: Record<string, VerbFlags> = {
  create: [...CLUSTER_FLAGS, "--timeout", "--spus", "--spec", "--port-base", "--profile", "--dry-run"],
  shutdown: [...CLUSTER_FLAGS, "--timeout", "--dry-run"],
  resume: [...CLUSTER_FLAGS, "--timeout", "--dry-run"],
  delete: [...CLUSTER_FLAGS, "--dry-run"],
  status: CLUSTER_FLAGS,
  list: ["--home"],
  spu: {
    list: CLUSTER_FLAGS,
    register: [...CLUSTER_FLAGS, "--id", "--public-port", "--private-port"],
    unregister: [...CLUSTER_FLAGS, "--id"],
  },
  topic: {
    create: [...CLUSTER_FLAGS, "--partitions", "--replication", "--compression-type", "--retention-time", "--segment-size", "--max-partition-size"],
    list: [...CLUSTER_FLAGS, "--system"],
    delete: CLUSTER_FLAGS,
    "add-partition": [...CLUSTER_FLAGS, "--count"],
  },
  produce: [...CLUSTER_FLAGS, "--partition", "--compression", "--timeout"],
  consume: [...CLUSTER_FLAGS, "--from-beginning", "--offset", "--disable-continuous", "--partition", "--consumer", "--timeout"],
  consumer: {
    list: CLUSTER_FLAGS,
    delete: [...CLUSTER_FLAGS, "--topic", "--partition"],
  },
  logs: [...CLUSTER_FLAGS, "--follow", "--lines"],
  diagnostics: [...CLUSTER_FLAGS, "--output"],
  completion: [],
};

/** Flags that take a value, and what completes it: cluster names, a directory, a file, or nothing. */
const VALUE_FLAGS: Record<string, "cluster" | "dir" | "file" | "none"> = {
  "--name": "cluster",
  "--home": "dir",
  "--spec": "file",
  "--output": "file",
  "-o": "file",
  "--timeout": "none",
  "--spus": "none",
  "--port-base": "none",
  "--profile": "none",
  "--id": "none",
  "--public-port": "none",
  "--private-port": "none",
  "--partitions": "none",
  "-p": "none",
  "--replication": "none",
  "-r": "none",
  "--partition": "none",
  "--compression": "none",
  "--compression-type": "none",
  "--retention-time": "none",
  "--segment-size": "none",
  "--max-partition-size": "none",
  "--offset": "none",
  "--consumer": "none",
  "--topic": "none",
  "--count": "none",
  "-c": "none",
  "--lines": "none",
  "-n": "none",
};

/** What the script does instead of printing candidates: let the shell complete a file or a directory. */
export const FILE_DIRECTIVE = ":file";
export const DIR_DIRECTIVE = ":dir";

/** Where completion finds what exists: the clusters of a home and the log components of one. */
export interface CompletionSources {
  clusterNames(home?: string): string[];
  logComponents(home?: string, name?: string): string[];
}

/** The real home, read the way every verb reads it (flags, then CLUSTER_HOME and CLUSTER_NAME). */
const HOME_SOURCES: CompletionSources = {
  clusterNames: (home) => listClusterNames(resolveHome(home)),
  logComponents: (home, name) => listLogComponents(locateCluster({ home, name })),
};

/**
 * The candidates for `words[index]`, where `words` is the command line as the shell split it
 * (`words[0]` is the command), filtered by what is typed so far; or a one-element list with
 * FILE_DIRECTIVE or DIR_DIRECTIVE. A shell splits `--name=dev` into `--name`, `=`, `dev`.
 */
export function completeWords(words: string[], index: number, sources: CompletionSources): string[] {
  const current = words[index] ?? "";
  const matching = (candidates: string[]) => candidates.filter((candidate) => candidate.startsWith(current));
  const positionals: string[] = [];
  const values = new Map<string, string>();
  for (let at = 1; at < index; at++) {
    const word = words[at]!;
    if (!word.startsWith("-")) {
      positionals.push(word);
      continue;
    }
    if (!(word in VALUE_FLAGS)) continue;
    const valueAt = words[at + 1] === "=" ? at + 2 : at + 1;
    if (valueAt >= index) return completeValue(VALUE_FLAGS[word]!, values, sources, matching);
    values.set(word, words[valueAt]!);
    at = valueAt;
  }

  const [verb, subcommand] = positionals;
  if (verb === undefined) return matching(current.startsWith("-") ? TOP_LEVEL_FLAGS : Object.keys(COMPLETION_TABLE));
  const table = COMPLETION_TABLE[verb];
  if (table === undefined) return [];
  let flags: string[] | undefined;
  if (Array.isArray(table)) flags = table;
  else if (subcommand === undefined) return matching(current.startsWith("-") ? COMMON_FLAGS : Object.keys(table));
  else flags = table[subcommand];
  if (flags === undefined) return [];
  if (current.startsWith("-")) return matching([...flags, ...COMMON_FLAGS]);
  if (verb === "logs" && positionals.length === 1) {
    return matching(safely(() => sources.logComponents(values.get("--home"), values.get("--name"))));
  }
  return [];
}

/**
 * The closest flag to `unknown` (as yargs names it, without dashes) among those the verb in
 * `args` takes: within two edits, or the only one it starts. For "Did you mean --spus?".
 */
export function closestFlag(args: string[], unknown: string): string | undefined {
  const [verb, subcommand] = args.filter((word) => !word.startsWith("-"));
  const table = verb === undefined ? undefined : COMPLETION_TABLE[verb];
  const flags = table === undefined ? TOP_LEVEL_FLAGS : Array.isArray(table) ? table : (table[subcommand ?? ""] ?? COMMON_FLAGS);
  const candidates = [...new Set([...flags, ...COMMON_FLAGS])].map((flag) => flag.replace(/^-+/, ""));
  const ranked = candidates
    .map((candidate) => ({ candidate, distance: editDistance(unknown, candidate) }))
    .sort((a, b) => a.distance - b.distance);
  const best = ranked[0];
  if (best && best.distance <= 2 && ranked[1]?.distance !== best.distance) return `--${best.candidate}`;
  const prefixed = candidates.filter((candidate) => candidate.startsWith(unknown));
  return prefixed.length === 1 ? `--${prefixed[0]}` : undefined;
}

/** Levenshtein distance, counting a swap of two neighbours as one edit ("spsu" is one from "spus"). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i]![j] = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i]![j] = Math.min(rows[i]![j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

function completeValue(
  kind: (typeof VALUE_FLAGS)[string],
  values: Map<string, string>,
  sources: CompletionSources,
  matching: (candidates: string[]) => string[],
): string[] {
  if (kind === "file") return [FILE_DIRECTIVE];
  if (kind === "dir") return [DIR_DIRECTIVE];
  if (kind === "cluster") return matching(safely(() => sources.clusterNames(values.get("--home"))));
  return [];
}

/** A broken home or a bad name offers nothing: a completion never prints an error into a prompt. */
function safely(list: () => string[]): string[] {
  try {
    return list();
  } catch {
    return [];
  }
}

/** Quotes `value` for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The completion script for bash and zsh, calling `argv` (the runtime and this CLI's entry, so
 * it works whether `cluster` is the npm bin or an alias to `bun cluster.ts`).
 */
function completionScript(argv: string[]): string {
  const command = argv.map(shellQuote).join(" ");
  return `# cluster completion for bash and zsh. Load it with: source <(cluster completion)
# Each Tab asks the CLI itself (its hidden '__complete' verb) for cluster names and
# log components, from CLUSTER_HOME or the --home typed on the line.
if [ -n "\${ZSH_VERSION:-}" ]; then
  whence compdef >/dev/null || { autoload -U +X compinit && compinit; }
  autoload -U +X bashcompinit && bashcompinit
fi

_cluster_completion() {
  local IFS=$'\\n'
  local current="\${COMP_WORDS[COMP_CWORD]}"
  COMPREPLY=($(${command} __complete "$COMP_CWORD" -- "\${COMP_WORDS[@]}" 2>/dev/null))
  case "\${COMPREPLY[*]}" in
    ${FILE_DIRECTIVE})
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$current"))
      ;;
    ${DIR_DIRECTIVE})
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -d -- "$current"))
      ;;
  esac
}

complete -F _cluster_completion cluster
`;
}

const CLI_ENTRY = fileURLToPath(new URL("../../cluster.ts", import.meta.url));

export const completionCommand = {
  command: "completion",
  describe: "Print a bash/zsh completion script for verbs, flags, cluster names and log components",
  builder: (yargs: Argv) =>
    yargs
      .example("source <($0 completion)", "complete 'cluster' in this shell")
      .example("echo 'source <(cluster completion)' >> ~/.bashrc", "complete it in every new shell"),
  handler: async (argv: { json?: boolean }): Promise<number> => {
    const script = completionScript([process.execPath, CLI_ENTRY]);
    process.stdout.write(argv.json ? `${JSON.stringify({ shell: "bash", script })}\n` : script);
    return 0;
  },
};

interface CompleteArgs {
  index: number;
  "--"?: string[];
}

/** The hidden helper the script calls: prints one candidate per line. */
export const completeCommand = {
  command: "__complete <index>",
  describe: false as const,
  builder: (yargs: Argv) => yargs.positional("index", { type: "number" }).parserConfiguration({ "populate--": true }),
  handler: async (argv: CompleteArgs): Promise<number> => {
    const words = (argv["--"] ?? []).map(String);
    const candidates = completeWords(words, argv.index, HOME_SOURCES);
    if (candidates.length > 0) process.stdout.write(`${candidates.join("\n")}\n`);
    return 0;
  },
};
