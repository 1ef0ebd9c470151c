/**
 * The daemon's half of the record handshake (see `startDetached` in lib/procs.ts). A daemon
 * started with `--await-record` does nothing (reads no file, binds no port) until the command
 * that started it says, on stdin, that its pid is saved in `state.yaml`. If that command dies
 * first (killed mid-create, say), stdin closes without the word and the daemon exits: no
 * process is ever left running that no record names, and that `status`, `shutdown` and
 * `delete` therefore could not see. So a command may start a daemon before the files it reads
 * and the ports it binds are ready: it loads its code meanwhile.
 */
import { log } from "./log.ts";

/** The line a daemon waits for on stdin before it trusts that its pid is recorded. */
export const RECORDED_SIGNAL = "recorded\n";

/**
 * Resolves once the record signal arrives; if stdin ends (or fails) before it, exits with
 * status 1.
 *
 * NOTE: read through Bun.stdin, not process.stdin: building the process.stdin stream costs
 * a Bun process about 17 ms, and every daemon of a `create` starts at once on a few cores.
 */
export async function untilRecorded(component: string): Promise<void> {
  const decoder = new TextDecoder();
  let received = "";
  try {
    for await (const chunk of Bun.stdin.stream()) {
      received += decoder.decode(chunk, { stream: true });
      if (received.includes(RECORDED_SIGNAL)) return;
    }
  } catch {
    // A stdin that fails says no more than one that ends.
  }
  log(`${component} exiting: the command that started it ended before recording its pid`);
  process.exit(1);
}
