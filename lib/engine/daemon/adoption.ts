/**
 * The daemon's half of the record handshake (see `startDetached` in lib/procs.ts). A daemon
 * started with `--await-record` keeps running only once the command that started it says, on
 * stdin, that its pid is saved in `state.yaml`. If that command dies first (killed mid-create,
 * say), stdin closes without the word and the daemon exits: no process is ever left running
 * that no record names, and that `status`, `shutdown` and `delete` therefore could not see.
 */
import { log } from "./log.ts";

/** The line a daemon waits for on stdin before it trusts that its pid is recorded. */
export const RECORDED_SIGNAL = "recorded\n";

/**
 * Exits with status 1 if stdin ends (or fails) before the record signal arrives.
 *
 * NOTE: read through Bun.stdin, not process.stdin: building the process.stdin stream costs
 * a Bun process about 17 ms, and every daemon of a `create` starts at once on a few cores.
 */
export function exitUnlessRecorded(component: string): void {
  void readStdin()
    .catch(() => "")
    .then((received) => {
      if (received.includes(RECORDED_SIGNAL)) return;
      log(`${component} exiting: the command that started it ended before recording its pid`);
      process.exit(1);
    });
}

async function readStdin(): Promise<string> {
  const decoder = new TextDecoder();
  let received = "";
  for await (const chunk of Bun.stdin.stream()) received += decoder.decode(chunk, { stream: true });
  return received + decoder.decode();
}
