/**
 * Daemon logging: one timestamped line per event on stdout, which the CLI appends to
 * `logs/<role>.log`.
 */

export function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

/** Splits `host:port` as given on a daemon's command line. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) throw new Error(`invalid address '${address}': expected host:port`);
  return { host: address.slice(0, colon), port };
}
