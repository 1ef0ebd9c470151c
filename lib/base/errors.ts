/**
 * The kinds of expected failure. Everything else that is thrown is a bug: the entry prints
 * its stack and exits 1. Only `lib/cli.ts` turns these into exit codes.
 *
 * `UsageError` and `ClusterError` are the CLI's. `CorruptFileError` is what lib/base/ and the
 * engine throw for a file they cannot read back; the CLI meets it as STATE_CORRUPT through
 * `asStateCorrupt`, so the engine throws nothing of the CLI's.
 */

/** Bad command line: exit 2, the message says which flag or value and what to use instead. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Stable machine-readable codes printed by `--json` and relied on by scripts. */
export type ErrorCode =
  | "CLUSTER_EXISTS"
  | "NO_CLUSTER"
  | "NOT_RUNNING"
  | "LOCKED"
  | "PORT_IN_USE"
  | "SPEC_INVALID"
  | "STATE_CORRUPT"
  | "TOKEN_MISSING"
  | "HOME_UNWRITABLE"
  | "HOME_INVALID"
  | "SC_DIED"
  | "SC_UNREACHABLE"
  | "SPU_CONFIRM_TIMEOUT"
  | "SPU_EXTRA"
  | "SPU_DIED"
  | "SPU_EXISTS"
  | "NO_SPU"
  | "STOP_FAILED"
  | "ADMIN_ERROR"
  | "TOPIC_EXISTS"
  | "NO_TOPIC"
  | "TOPIC_INVALID"
  | "SYSTEM_TOPIC"
  | "INSUFFICIENT_SPUS"
  | "NO_PARTITION"
  | "OFFSET_OUT_OF_RANGE"
  | "NOT_LEADER"
  | "LEADER_UNAVAILABLE"
  | "PRODUCE_TIMEOUT"
  | "COMPRESSION_MISMATCH"
  | "DISK_FULL"
  | "SPU_UNREACHABLE"
  | "SPU_ERROR"
  | "OFFSETS_UNAVAILABLE"
  | "NO_CONSUMER"
  | "DIAGNOSTICS_FAILED"
  | "PROFILE_EXISTS"
  | "PROFILE_INVALID";

/** A failure the user can act on: a stable `code`, a message, and a `hint` naming the next command. */
export class ClusterError extends Error {
  override name = "ClusterError";
  readonly code: ErrorCode;
  readonly hint: string;
  /** Facts a script may want beside the message (`--json` prints them in the error object). */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint ?? "";
    this.details = options.details ?? {};
  }
}

/** A file this project wrote that cannot be read back: unreadable, not YAML, or not the shape its reader needs. The message names the file and what is wrong. */
export class CorruptFileError extends Error {
  override name = "CorruptFileError";
  readonly path: string;

  constructor(path: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.path = path;
  }
}

/**
 * Runs `read`; a CorruptFileError it throws becomes STATE_CORRUPT with the same message and
 * `hint` (by default: fix the file, or delete the cluster). How the CLI reads its own state
 * files and, through the engine's faces, the SC's store.
 */
export function asStateCorrupt<T>(read: () => T, hint = "fix the file or its directory by hand, or remove the cluster with 'cluster delete'"): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof CorruptFileError)) throw error;
    throw new ClusterError("STATE_CORRUPT", error.message, { hint, cause: error });
  }
}
