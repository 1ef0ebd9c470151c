/**
 * The daemon's half of the record handshake (see `startDetached` in lib/base/procs.ts). A daemon
 * started with `--await-record` does nothing (reads no file, binds no port) until the command
 * that started it says, on stdin, that its pid is saved in `state.yaml`. If that command dies
 * first (killed mid-create, say), stdin closes without the word and the daemon exits: no
 * process is ever left running that no record names, and that `status`, `shutdown` and
 * `delete` therefore could not see. So a command may start a daemon before the files it reads
 * and the ports it binds are ready: it loads its code meanwhile.
 */
import { readSync } from "node:fs";
import { RECORDED_SIGNAL } from "../../base/record-signal.ts";
import { log } from "./log.ts";

const STDIN = 0;

/**
 * Returns once the record signal arrives; if stdin ends (or fails) before it, exits with
 * status 1.
 *
 * NOTE: a blocking read of fd 0, since the daemon has nothing else to do until then. Bun's
 * stdin stream cost a daemon about 3.5 ms of CPU to set up (process.stdin about 17 ms), and
 * every daemon of a `create` starts at once on a few cores; node:fs is loaded by then anyway.
 */
export function untilRecorded(component: string): void {
  const chunk = Buffer.alloc(64);
  let received = "";
  try {
    for (;;) {
      const length = readSync(STDIN, chunk, 0, chunk.length, null);
      if (length === 0) break;
      received += chunk.toString("latin1", 0, length);
      if (received.includes(RECORDED_SIGNAL)) return;
    }
  } catch {
    // A stdin that fails says no more than one that ends.
  }
  log(`${component} exiting: the command that started it ended before recording its pid`);
  process.exit(1);
}
