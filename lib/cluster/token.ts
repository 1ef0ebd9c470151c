/**
 * The cluster token: the one secret that lets a caller use a cluster's SC admin API, its SPUs'
 * produce and consume endpoints, and join it as an SPU or follower. It lives in
 * `<cluster>/token`, mode 0600 in a 0700 directory, so exactly the users who can read the
 * cluster's files can drive it; anyone else on the machine reaches the ports but not the data.
 *
 * NOTE: the token never travels in argv, the environment or a log line. Daemons get the
 * file's path (`--token-file`) and read it themselves; the CLI reads it once per command and
 * passes it along with the URL it calls (admin.ts `AdminTarget`).
 */
import { readFileSync } from "node:fs";
import { ClusterError } from "../base/errors.ts";
import { type ClusterPaths } from "./home.ts";
import { atomicWriter, pathExists, type FileWriter } from "../base/files.ts";

const TOKEN_BYTES = 32;

/** A fresh token: 32 random bytes, base64url (43 characters, safe in a header and a file). */
export function generateToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES))).toString("base64url");
}

/**
 * Writes a new token to `paths.token` (0600, atomically) unless the file exists; returns
 * whether it wrote one. `create` calls it before starting anything, and `resume` for a
 * cluster created before clusters had tokens. Written through `options.writer` (durable at once by default).
 */
export function ensureToken(paths: ClusterPaths, options: { writer?: FileWriter } = {}): boolean {
  if (pathExists(paths.token)) return false;
  (options.writer ?? atomicWriter).write(paths.token, `${generateToken()}\n`);
  return true;
}

/**
 * The token of the cluster at `paths`, for the CLI's requests. Throws TOKEN_MISSING naming
 * the file when it is absent, unreadable (another user's cluster) or empty.
 */
export function readToken(paths: ClusterPaths): string {
  let text: string;
  try {
    text = readFileSync(paths.token, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") {
      throw new ClusterError("TOKEN_MISSING", `cannot read the token file '${paths.token}' of cluster '${paths.name}': permission denied`, {
        hint: "run the command as the user who created the cluster",
        cause: error,
      });
    }
    if (code !== "ENOENT") throw error;
    throw new ClusterError("TOKEN_MISSING", `cluster '${paths.name}' has no token file '${paths.token}'`, {
      hint: `run 'cluster shutdown --name ${paths.name}', then 'cluster resume --name ${paths.name}', which makes a new token`,
      cause: error,
    });
  }
  const token = text.trim();
  if (token === "") {
    throw new ClusterError("TOKEN_MISSING", `the token file '${paths.token}' of cluster '${paths.name}' is empty`, {
      hint: `run 'cluster shutdown --name ${paths.name}', remove the file, then 'cluster resume --name ${paths.name}'`,
    });
  }
  return token;
}
