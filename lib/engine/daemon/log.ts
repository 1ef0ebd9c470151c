/**
 * Daemon logging: one timestamped line per event on stdout, which the CLI appends to
 * `logs/<role>.log`.
 */

export function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}
