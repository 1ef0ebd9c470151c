/**
 * The per-cluster lock held for the whole of every lifecycle verb.
 *
 * It is an flock(2) on `<cluster>/lock`: the kernel drops it the instant its holder dies, so a
 * `cluster` command killed with SIGKILL never leaves a lock that needs a timeout or a guess.
 * The holder also writes its pid, start time and verb into the file: a live holder is named in
 * the LOCKED error, and a record found on taking the lock is a holder that died mid-verb,
 * which is reported as a stale lock taken over.
 */
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { ClusterError } from "./errors.ts";
import { readStartTime } from "./procs.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

let libc: { flock(fd: number, operation: number): number } | undefined;

function flock(fd: number, operation: number): boolean {
  libc ??= dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  }).symbols;
  return libc.flock(fd, operation) === 0;
}

/** The holder recorded in a lock file. */
export interface LockHolder {
  pid: number;
  startTime: string | null;
  verb: string;
}

/** A held lock; `staleHolder` is set when the previous holder died while holding it. */
export interface HeldLock {
  staleHolder?: LockHolder;
  /** Lets the lock go; safe to repeat. */
  release(): void;
}

/**
 * Takes the lock at `path`, or throws LOCKED naming the live holder; with `wait` it blocks
 * until the lock is free instead (only for locks held a few milliseconds). Its directory must
 * exist. `subject` names what is locked in the error ("cluster 'dev'").
 */
export function acquireLock(path: string, options: { verb: string; subject: string; wait?: boolean }): HeldLock {
  for (;;) {
    const fd = openSync(path, "a+", 0o600);
    if (!flock(fd, options.wait ? LOCK_EX : LOCK_EX | LOCK_NB)) {
      const holder = parseHolder(readFileSync(path, "utf8"));
      closeSync(fd);
      const who = holder ? `'cluster ${holder.verb}' (pid ${holder.pid})` : "another cluster command";
      throw new ClusterError("LOCKED", `${options.subject} is locked by ${who}`, {
        hint: "wait for that command to finish and try again",
      });
    }
    // NOTE: `delete` removes the directory, lock file included, while holding the lock. A lock
    // taken on such an unlinked file guards nothing, so check the path still names our file.
    if (!isSameFile(fd, path)) {
      closeSync(fd);
      continue;
    }
    const staleHolder = findStaleHolder(path);
    const me: LockHolder = { pid: process.pid, startTime: readStartTime(process.pid), verb: options.verb };
    ftruncateSync(fd, 0);
    writeSync(fd, `${me.pid} ${me.startTime} ${me.verb}\n`, 0);
    let held = true;
    return {
      staleHolder,
      release() {
        if (!held) return;
        held = false;
        // An empty file tells the next holder that this one finished cleanly.
        try {
          ftruncateSync(fd, 0);
        } finally {
          closeSync(fd);
        }
      },
    };
  }
}

/**
 * The holder recorded in the lock file at `path` if it died holding the lock (a holder that
 * finished left the file empty); read without taking the lock, so a dry run can see it too.
 */
export function findStaleHolder(path: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const holder = parseHolder(text);
  return holder && readStartTime(holder.pid) !== holder.startTime ? holder : undefined;
}

function isSameFile(fd: number, path: string): boolean {
  try {
    return statSync(path).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  const [pid, startTime, verb] = text.trim().split(" ");
  if (!pid || !verb) return undefined;
  return { pid: Number(pid), startTime: startTime === "null" ? null : startTime!, verb };
}
