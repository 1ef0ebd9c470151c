/**
 * The daemons' command lines: `--name value` options, all required, and boolean `--flag`s.
 * Parsed here rather than with node:util's parseArgs because loading node:util costs each
 * daemon about 4.7 MiB of resident memory (a bare Bun.serve process: 25 MiB, 29.7 with it).
 */

/** Parses `argv`; throws `usage` on an unknown, repeated-without-value or missing option. */
export function parseDaemonArgs<Option extends string, Flag extends string>(
  argv: string[],
  expected: { options: Option[]; flags: Flag[] },
  usage: string,
): Record<Option, string> & Record<Flag, boolean> {
  const parsed: Record<string, string | boolean> = Object.fromEntries(expected.flags.map((flag) => [flag, false]));
  for (let index = 0; index < argv.length; index++) {
    const name = argv[index]!.startsWith("--") ? argv[index]!.slice(2) : "";
    if ((expected.flags as string[]).includes(name)) {
      parsed[name] = true;
    } else if ((expected.options as string[]).includes(name) && index + 1 < argv.length) {
      parsed[name] = argv[++index]!;
    } else {
      throw new Error(`unexpected argument '${argv[index]}'; ${usage}`);
    }
  }
  const missing = expected.options.filter((option) => typeof parsed[option] !== "string");
  if (missing.length > 0) throw new Error(`missing --${missing.join(", --")}; ${usage}`);
  return parsed as Record<Option, string> & Record<Flag, boolean>;
}

/** Splits `host:port` as given on a daemon's command line. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) throw new Error(`invalid address '${address}': expected host:port`);
  return { host: address.slice(0, colon), port };
}
