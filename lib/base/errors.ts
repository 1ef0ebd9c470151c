/**
 * The two kinds of expected failure. Everything else that is thrown is a bug: the entry prints
 * its stack and exits 1. Only `lib/cli.ts` turns these into exit codes.
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
