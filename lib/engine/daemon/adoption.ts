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

/** Exits with status 1 if stdin ends before the record signal arrives. */
export function exitUnlessRecorded(component: string): void {
  let received = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    received += chunk;
  });
  process.stdin.on("end", () => {
    if (received.includes(RECORDED_SIGNAL)) return;
    log(`${component} exiting: the command that started it ended before recording its pid`);
    process.exit(1);
  });
}
