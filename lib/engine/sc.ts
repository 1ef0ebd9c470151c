/**
 * The built-in SC (streaming controller) daemon: parses its command line and runs an
 * ScServer (control-plane/sc-server.ts) until SIGTERM or SIGINT.
 *
 *   bun lib/engine/sc.ts [--await-record] --token-file FILE --metadata DIR --public HOST:PORT --private HOST:PORT
 *
 * The cluster token is read from FILE (lib/token.ts), so it never shows in argv. From the
 * bytecode cache it runs as `cluster-daemon sc ...` (daemon.ts).
 */
import { untilRecorded } from "./daemon/adoption.ts";
import { parseAddress, parseDaemonArgs } from "./daemon/daemon-args.ts";
import { runDaemon } from "./daemon/run-daemon.ts";
import { ScServer } from "./control-plane/sc-server.ts";
import { readTokenFile } from "../token.ts";

/** Runs the SC daemon with its command line `argv` (the arguments after the script). */
export function main(argv: string[]): void {
  const args = parseDaemonArgs(
    argv,
    { options: ["token-file", "metadata", "public", "private"], flags: ["await-record"] },
    "usage: sc.ts [--await-record] --token-file FILE --metadata DIR --public HOST:PORT --private HOST:PORT",
  );
  if (args["await-record"]) untilRecorded("SC");
  runDaemon("SC", () =>
    new ScServer({
      token: readTokenFile(args["token-file"]),
      metadataDir: args.metadata,
      publicAddress: parseAddress(args.public),
      privateAddress: parseAddress(args.private),
    }),
  );
}

if (import.meta.main) main(process.argv.slice(2));
