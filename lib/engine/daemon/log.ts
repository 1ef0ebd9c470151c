/**
 * Daemon logging: one timestamped line per event on stdout, which the CLI appends to
 * `logs/<role>.log`. A test that runs a server in-process sends the lines elsewhere.
 */

let write = (line: string): void => {
  process.stdout.write(line);
};

export function log(message: string): void {
  write(`${new Date().toISOString()} ${message}\n`);
}

/** Sends every log line to `sink` instead of stdout (for servers run inside a test). */
export function setLogSink(sink: (line: string) => void): void {
  write = sink;
}
