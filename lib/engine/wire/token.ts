/**
 * The daemons' side of the cluster token (lib/cluster/token.ts makes it): reading the file a
 * daemon is given with `--token-file`, and checking what a peer presents on a private link.
 */
import { readFileSync } from "node:fs";

/** The token in file `path`, for a daemon at start; throws a plain Error naming the file (the daemon exits). */
export function readTokenFile(path: string): string {
  const token = readFileSync(path, "utf8").trim();
  if (token === "") throw new Error(`the token file '${path}' is empty`);
  return token;
}

/**
 * True when `presented` is the token, in constant time: both are hashed to 32 bytes first, so
 * neither the presented value's length nor where it first differs changes how long this takes.
 *
 * NOTE: this is node:crypto's `timingSafeEqual` on SHA-256 digests, written out over Bun's
 * native hasher because importing node:crypto costs every daemon about 1.5 MiB of private
 * memory (3.5 MiB resident), measured on a bare Bun process.
 */
export function tokenMatches(presented: unknown, token: string): boolean {
  if (typeof presented !== "string") return false;
  const a = Bun.SHA256.hash(presented) as Uint8Array;
  const b = Bun.SHA256.hash(token) as Uint8Array;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
