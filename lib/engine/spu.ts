/**
 * The built-in SPU (streaming processing unit) daemon: parses its command line and runs an
 * SpuServer (data-plane/spu-server.ts) until SIGTERM or SIGINT.
 *
 *   bun lib/engine/spu.ts [--await-record] --token-file FILE --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR
 *
 * The cluster token is read from FILE (lib/token.ts), so it never shows in argv. From the
 * bytecode cache it runs as `cluster-daemon spu ...` (daemon.ts).
 */
import { untilRecorded } from "./daemon/adoption.ts";
import { parseAddress, parseDaemonArgs } from "./daemon/daemon-args.ts";
import { runDaemon } from "./daemon/run-daemon.ts";
import { SpuServer } from "./data-plane/spu-server.ts";
import { readTokenFile } from "../token.ts";

/** Runs the SPU daemon with its command line `argv` (the arguments after the script). */
export function main(argv: string[]): void {
  const args = parseDaemonArgs(
    argv,
    { options: ["token-file", "id", "public", "private", "sc", "data"], flags: ["await-record"] },
    "usage: spu.ts [--await-record] --token-file FILE --id ID --public HOST:PORT --private HOST:PORT --sc HOST:PORT --data DIR",
  );
  if (args["await-record"]) untilRecorded(`SPU ${args.id}`);
  runDaemon(`SPU ${args.id}`, () =>
    new SpuServer({
      id: Number(args.id),
      token: readTokenFile(args["token-file"]),
      dataDir: args.data,
      publicAddress: parseAddress(args.public),
      privateAddress: parseAddress(args.private),
      scAddress: parseAddress(args.sc),
    }),
  );
}

if (import.meta.main) main(process.argv.slice(2));
