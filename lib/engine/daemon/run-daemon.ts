/**
 * How both daemons live: start the server object, or log why it cannot start and exit 1
 * (the CLI then shows the log's tail); stop it and exit 0 on SIGTERM or SIGINT.
 */
import { log } from "./log.ts";

/** Runs the server `start` makes until a signal stops it; `name` is "SC" or "SPU 5001". */
export function runDaemon(name: string, start: () => { stop(): void }): void {
  let server: { stop(): void };
  try {
    server = start();
  } catch (error) {
    log(`${name} cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    log(`${name} stopping on ${signal}`);
    server.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
