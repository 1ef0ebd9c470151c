/**
 * How both daemons live: wait, when asked, until the CLI has recorded the pid (adoption.ts);
 * start the server object, or log why it cannot start and exit 1 (the CLI then shows the log's
 * tail); stop it and exit 0 on SIGTERM or SIGINT.
 *
 * NOTE: the daemons' entries call this without a top-level await: the bytecode cache
 * (lib/bytecode-cache.ts) bundles them as CommonJS, which has none.
 */
import { untilRecorded } from "./adoption.ts";
import { log } from "./log.ts";

/** Runs the server `start` makes until a signal stops it; `name` is "SC" or "SPU 5001". */
export async function runDaemon(name: string, options: { awaitRecord: boolean }, start: () => { stop(): void }): Promise<void> {
  if (options.awaitRecord) await untilRecorded(name);
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
