/**
 * The common command lines of the everyday verbs, parsed without yargs. Loading yargs costs a
 * Bun process about 45 ms, several times the start of Bun itself, and `status` runs in shell
 * prompts and editor hooks. So `lib/cli.ts` first offers the command line here; anything this
 * parser is not sure of (`--help`, `--version`, an unknown or repeated flag, a short flag, a
 * positional, a value that is not plainly a value, a failed check) goes to yargs, which gives
 * exactly its usual messages and exit codes.
 *
 * Nothing is declared twice: the surface is read from the verb's own yargs builder, run
 * against a recorder that understands `.option(name, {type, default, describe, hidden})`,
 * `.check(fn)` and `.example()`. A builder that calls anything else (positionals,
 * subcommands, aliases, choices) is left to yargs whole. tests/fast-argv.test.ts holds this
 * parser to the argv yargs itself builds for the same command lines.
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
}

/** The argv yargs hands a command's handler: `_` holds the verb, `$0` the script name. */
export type ParsedArgv = Record<string, unknown> & { _: string[]; $0: string };

interface Surface {
  options: Map<string, OptionRule>;
  checks: ((argv: ParsedArgv) => unknown)[];
}

const READABLE_RULE_KEYS = new Set(["type", "default", "describe", "hidden", "global"]);
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
  // A command with positionals or aliases ("logs [component]") is yargs' to parse.
  if (args[0] !== command.command) return undefined;
  const surface = readSurface(command.builder);
  if (!surface || Object.keys(globals).some((name) => surface.options.has(name))) return undefined;
  const rules = new Map([...Object.entries(globals), ...surface.options]);
  const argv: ParsedArgv = { _: [command.command], $0: scriptName };
  const given = new Set<string>();
  for (let index = 1; index < args.length; index++) {
    const [, name, inline] = LONG_FLAG.exec(args[index]!) ?? [];
    const rule = name === undefined ? undefined : rules.get(name);
    // yargs makes an array of a repeated option.
    if (!rule?.type || given.has(name!)) return undefined;
    given.add(name!);
    if (rule.type === "boolean") {
      if (inline !== undefined) return undefined;
      setOption(argv, name!, true);
      continue;
    }
    const text = inline ?? args[++index];
    if (text === undefined || text === "" || text.startsWith("-")) return undefined;
    if (rule.type === "number" && !PLAIN_NUMBER.test(text)) return undefined;
    setOption(argv, name!, rule.type === "number" ? Number(text) : text);
  }
  for (const [name, rule] of rules) {
    if (rule.default !== undefined && !given.has(name)) setOption(argv, name, rule.default);
  }
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

/** yargs keeps a dashed option under both spellings: `port-base` and `portBase`. */
function setOption(argv: ParsedArgv, name: string, value: unknown): void {
  argv[name] = value;
  const camel = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  if (camel !== name) argv[camel] = value;
}

/** The options and checks `builder` declares, or `undefined` when it calls anything this parser does not read. */
function readSurface(builder: CommandModule["builder"]): Surface | undefined {
  const surface: Surface = { options: new Map(), checks: [] };
  let readable = true;
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_, method) => (...params: unknown[]) => {
      const [first, second] = params;
      if (method === "option" && params.length === 2 && typeof first === "string" && isReadableRule(second) && !surface.options.has(first)) {
        surface.options.set(first, second);
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
  const { type } = rule as OptionRule;
  return Object.keys(rule).every((key) => READABLE_RULE_KEYS.has(key)) && (type === undefined || type === "string" || type === "number" || type === "boolean");
}
