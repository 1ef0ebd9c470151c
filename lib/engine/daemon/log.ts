/**
 * Daemon logging: one timestamped line per event on stdout, which the CLI appends to
 * `logs/<role>.log`. A test that runs a server in-process sends the lines elsewhere.
 *
 * NOTE: written with writeSync, each failure caught: a log on a full disk must not end the
 * daemon (process.stdout emits an unhandled 'error' on ENOSPC and Bun exits), and a stream
 * that has failed once writes nothing more. Lines that cannot be written are counted, and the
 * next line that can be says how many were lost.
 */
import { writeSync } from "node:fs";

const STDOUT = 1;
let lost = 0;
let lostReason = "";

let write = (text: string): void => {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) done += writeSync(STDOUT, bytes, done, bytes.length - done);
};

export function log(message: string): void {
  const now = new Date().toISOString();
  const line = `${now} ${message}\n`;
  const text = lost > 0 ? `${now} ${lost} log line(s) before this one were lost: ${lostReason}\n${line}` : line;
  try {
    write(text);
    lost = 0;
  } catch (error) {
    lost++;
    lostReason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** Sends every log line to `sink` instead of stdout (for servers run inside a test). */
export function setLogSink(sink: (line: string) => void): void {
  write = sink;
}
