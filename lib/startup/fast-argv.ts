/**
 * The common command lines of the everyday verbs, parsed without yargs. Loading yargs costs a
 * Bun process about 45 ms, several times the start of Bun itself, and `status` runs in shell
 * prompts and editor hooks. So `lib/cli.ts` first offers the command line here; anything this
 * parser is not sure of (`--help`, `--version`, an unknown or repeated flag, a short flag, a
 * second positional, a value that is not plainly a value, a failed check) goes to yargs, which
 * gives exactly its usual messages and exit codes.
 *
 * Nothing is declared twice: the surface is read from the verb's own yargs builder, run
 * against a recorder that understands `.option(name, {type, default, describe, hidden, alias,
 * choices})`, `.positional(name, {type: "string", demandOption, describe})` for each `<name>`
 * of the command, `.conflicts(a, b)`, `.check(fn)` and `.example()`. A builder that calls
 * anything else (subcommands, optional positionals) is left to yargs whole. Short flags are
 * read only as a one-letter alias of a boolean (`-B`), never grouped (`-Bd`).
 * tests/startup/fast-argv.test.ts holds this parser to the argv yargs itself builds for the same
 * command lines.
 *
 * NOTE: `produce` and `consume` are run in loops by scripts, and yargs was most of their start
 * (about 35 ms of 50).
 */
import type { Argv } from "yargs";

/** A command module as `lib/cli.ts` registers it with yargs. */
export interface CommandModule {
  command: string;
  describe: string | false;
  builder: (yargs: Argv) => unknown;
  handler: (argv: never) => Promise<number | void> | void;
}

/** An option as `.option(name, rule)` declares it, in the forms this parser reads. */
export interface OptionRule {
  type?: "string" | "number" | "boolean";
  default?: unknown;
  describe?: string;
  hidden?: boolean;
  global?: boolean;
  /** One letter, as `-B`. */
  alias?: string;
  /** The only values a string option takes. */
  choices?: readonly string[];
}

/** The argv yargs hands a command's handler: `_` holds the verb, `$0` the script name. */
export type ParsedArgv = Record<string, unknown> & { _: string[]; $0: string };

interface Surface {
  options: Map<string, OptionRule>;
  /** The command's required positionals, in order. */
  positionals: string[];
  /** Options that may not be given together. */
  conflicts: [string, string][];
  checks: ((argv: ParsedArgv) => unknown)[];
}

const READABLE_RULE_KEYS = new Set(["type", "default", "describe", "hidden", "global", "alias", "choices"]);
const READABLE_POSITIONAL_KEYS = new Set(["type", "demandOption", "describe"]);
/** `-B`: one letter. */
const SHORT_FLAG = /^-([A-Za-z])$/;
/** `<name>` in a command's usage: a required positional. */
const REQUIRED_POSITIONAL = /^<([a-z]+)>$/;
/** `--name` or `--name=value`, with a lowercase dashed name. */
const LONG_FLAG = /^--([a-z]+(?:-[a-z]+)*)(?:=(.*))?$/s;
/** Numbers as people type them; yargs' other forms (`010`, `1e3`, `0x10`) are left to it. */
const PLAIN_NUMBER = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * The argv yargs would hand `command`'s handler for `args` (`args[0]` is the verb), or
 * `undefined` when the command line is not one this parser reads with certainty.
 */
export function fastArgv(
  args: string[],
  command: CommandModule,
  globals: Record<string, OptionRule>,
  scriptName: string,
): ParsedArgv | undefined {
  const [verb, ...usage] = command.command.split(" ");
  if (args[0] !== verb) return undefined;
  const surface = readSurface(command.builder);
  if (!surface || Object.keys(globals).some((name) => surface.options.has(name))) return undefined;
  // Each `<name>` of the usage declared, in order, and nothing else (`[name]` is yargs').
  const declared = usage.map((word) => REQUIRED_POSITIONAL.exec(word)?.[1]);
  if (declared.includes(undefined) || declared.join(" ") !== surface.positionals.join(" ")) return undefined;
  const rules = new Map([...Object.entries(globals), ...surface.options]);
  const byAlias = new Map([...rules].filter(([, rule]) => rule.alias !== undefined).map(([name, rule]) => [rule.alias!, name]));
  const argv: ParsedArgv = { _: [verb!], $0: scriptName };
  const given = new Set<string>();
  const positionals: string[] = [];
  for (let index = 1; index < args.length; index++) {
    const arg = args[index]!;
    if (!arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    const short = SHORT_FLAG.exec(arg)?.[1];
    const [, name, inline] = short === undefined ? (LONG_FLAG.exec(arg) ?? []) : [arg, byAlias.get(short), undefined];
    const rule = name === undefined ? undefined : rules.get(name);
    // yargs makes an array of a repeated option; a short flag takes no value here.
    if (!rule?.type && !rule?.choices) return undefined;
    if (given.has(name!) || (short !== undefined && rule.type !== "boolean")) return undefined;
    given.add(name!);
    if (rule.type === "boolean") {
      if (inline !== undefined) return undefined;
      setOption(argv, name!, true, rule);
      continue;
    }
    const text = inline ?? args[++index];
    if (text === undefined || text === "" || text.startsWith("-")) return undefined;
    if (rule.type === "number" && !PLAIN_NUMBER.test(text)) return undefined;
    if (rule.choices && !rule.choices.includes(text)) return undefined;
    setOption(argv, name!, rule.type === "number" ? Number(text) : text, rule);
  }
  if (positionals.length !== surface.positionals.length || positionals.some((value) => value === "")) return undefined;
  surface.positionals.forEach((name, index) => (argv[name] = positionals[index]));
  for (const [name, rule] of rules) {
    if (rule.default !== undefined && !given.has(name)) setOption(argv, name, rule.default, rule);
  }
  if (surface.conflicts.some(([first, second]) => given.has(first) && given.has(second))) return undefined;
  // A check that fails is yargs' to report, in its words.
  for (const check of surface.checks) {
    try {
      if (check(argv) !== true) return undefined;
    } catch {
      return undefined;
    }
  }
  return argv;
}

/** yargs keeps a dashed option under both spellings, `port-base` and `portBase`, and under its alias. */
function setOption(argv: ParsedArgv, name: string, value: unknown, rule: OptionRule): void {
  argv[name] = value;
  const camel = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  if (camel !== name) argv[camel] = value;
  if (rule.alias !== undefined) argv[rule.alias] = value;
}

/** The options and checks `builder` declares, or `undefined` when it calls anything this parser does not read. */
function readSurface(builder: CommandModule["builder"]): Surface | undefined {
  const surface: Surface = { options: new Map(), positionals: [], conflicts: [], checks: [] };
  let readable = true;
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_, method) => (...params: unknown[]) => {
      const [first, second] = params;
      if (method === "option" && params.length === 2 && typeof first === "string" && isReadableRule(second) && !surface.options.has(first)) {
        surface.options.set(first, second);
      } else if (method === "positional" && params.length === 2 && typeof first === "string" && isReadablePositional(second)) {
        surface.positionals.push(first);
      } else if (method === "conflicts" && params.length === 2 && typeof first === "string" && typeof second === "string") {
        surface.conflicts.push([first, second]);
      } else if (method === "check" && params.length === 1 && typeof first === "function") {
        surface.checks.push(first as Surface["checks"][number]);
      } else if (method !== "example") {
        readable = false;
      }
      return recorder;
    },
  });
  builder(recorder);
  return readable ? surface : undefined;
}

function isReadableRule(rule: unknown): rule is OptionRule {
  if (typeof rule !== "object" || rule === null) return false;
  const { type, alias, choices } = rule as OptionRule;
  if (alias !== undefined && !(typeof alias === "string" && /^[A-Za-z]$/.test(alias))) return false;
  // Choices of strings, on an option that declares no type (yargs would read "1" as a number).
  if (choices !== undefined && !(type === undefined && Array.isArray(choices) && choices.every((choice) => typeof choice === "string"))) return false;
  return Object.keys(rule).every((key) => READABLE_RULE_KEYS.has(key)) && (type === undefined || type === "string" || type === "number" || type === "boolean");
}

/** A required string positional. */
function isReadablePositional(rule: unknown): boolean {
  if (typeof rule !== "object" || rule === null) return false;
  const { type, demandOption } = rule as { type?: unknown; demandOption?: unknown };
  return Object.keys(rule).every((key) => READABLE_POSITIONAL_KEYS.has(key)) && type === "string" && demandOption === true;
}
