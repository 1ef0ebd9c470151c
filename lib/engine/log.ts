/**
 * Daemon logging: one timestamped line per event on stdout, which the CLI appends to
 * `logs/<role>.log`.
 *
 * NOTE: console.log, not process.stdout.write: building the process.stdout stream costs a
 * Bun process about 12 ms, twice what Bun takes to start, and every daemon logs on start.
 */

export function log(message: string): void {
  console.log(`${new Date().toISOString()} ${message}`);
}
