/**
 * The one place that starts, inspects and signals processes. A process is known by the record
 * written when it was started: its pid *and* its start time. A pid alone is never trusted
 * (pids are reused), and nothing is ever found or stopped by name.
 *
 * NOTE: processes start with Bun.spawn and ports are tried with Bun.listen: node:child_process
 * and node:net cost a Bun process about 3 and 9 ms to load, and every verb imports this file.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { RECORDED_SIGNAL } from "./record-signal.ts";
import { pollUntil } from "./poll-until.ts";

/** What `state.yaml` keeps about a process this tool started. */
export interface ProcessRecord {
  pid: number;
  /** Kernel start time (clock ticks since boot on Linux); `null` if it exited before it was read. */
  startTime: string | null;
  argv: string[];
}

/** A process's kernel state letter (R, S, D, T, Z, ...) and start time, or `null` when there is no process `pid`. Linux reads /proc; elsewhere `ps` answers. */
function readProcess(pid: number): { state: string; startTime: string } | null {
  if (process.platform === "linux") {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return null;
    }
    // NOTE: the command name (field 2) may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTime = fields[19];
    return startTime === undefined ? null : { state: fields[0] ?? "", startTime };
  }
  const result = Bun.spawnSync(["ps", "-o", "stat=,lstart=", "-p", String(pid)]);
  const line = result.stdout.toString().trim();
  if (result.exitCode !== 0 || line === "") return null;
  return { state: line[0]!, startTime: line.slice(line.indexOf(" ") + 1).trim() };
}

/** The start time of `pid`, or `null` when no live process has that pid (a zombie counts as exited). */
export function readStartTime(pid: number): string | null {
  const found = readProcess(pid);
  if (!found || found.state === "Z" || found.state === "X") return null;
  return found.startTime;
}

/** True when the process of `record` still runs: same pid *and* same start time. */
export function isAlive(record: ProcessRecord): boolean {
  return record.startTime !== null && readStartTime(record.pid) === record.startTime;
}

/**
 * What the process of `record` is doing: `running` (or sleeping, waiting on I/O: it can
 * serve), `suspended` (stopped by a signal such as SIGSTOP, state T: it exists and holds its
 * ports, but does nothing until SIGCONT), `zombie` (it exited and its parent has not reaped
 * it), or `gone` (no such process, or the pid is another process's now). `isAlive` is true
 * exactly for `running` and `suspended`.
 */
export type ProcessState = "running" | "suspended" | "zombie" | "gone";

export function processState(record: ProcessRecord): ProcessState {
  const found = record.startTime === null ? null : readProcess(record.pid);
  if (!found || found.startTime !== record.startTime || found.state === "X") return "gone";
  if (found.state === "Z") return "zombie";
  if (found.state === "T" || found.state === "t") return "suspended";
  return "running";
}

/** A process just started: its record, and the handshake that lets it keep running. */
export interface StartedProcess {
  record: ProcessRecord;
  /**
   * Tells the process its record is saved. A daemon started with `--await-record` does
   * nothing until this arrives, and exits by itself if its stdin closes first: when the
   * starting command is killed between starting it and saving its pid, nothing is left
   * running that no record names.
   */
  confirmRecorded(): void;
}

/**
 * Starts `argv` detached in its own session (so a Ctrl-C in the terminal that ran `create`
 * does not reach it), stdout and stderr appended to `logFile`, stdin a pipe for the
 * record handshake.
 */
export function startDetached(argv: string[], options: { logFile: string; cwd?: string }): StartedProcess {
  const log = openSync(options.logFile, "a", 0o600);
  let child: Bun.Subprocess<"pipe", number, number>;
  try {
    child = Bun.spawn(argv, { cwd: options.cwd, detached: true, stdin: "pipe", stdout: log, stderr: log });
  } catch (error) {
    throw new Error(`could not start '${argv.join(" ")}': ${(error as Error).message}`, { cause: error });
  } finally {
    closeSync(log);
  }
  child.unref();
  return {
    record: { pid: child.pid, startTime: readStartTime(child.pid), argv },
    confirmRecorded: () => {
      // A daemon that died early has closed the pipe; writing to it then must not fail this command.
      try {
        child.stdin.write(RECORDED_SIGNAL);
        child.stdin.end();
      } catch {}
    },
  };
}

/** Sends `signal` to the process of `record` if it is still that process; returns whether it was sent. */
export function signalProcess(record: ProcessRecord, signal: NodeJS.Signals): boolean {
  if (!isAlive(record)) return false;
  try {
    process.kill(record.pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * NOTE: a look is one read of /proc/<pid>/stat per process (microseconds), and three SPUs take
 * a few to 20 ms to exit after SIGTERM: with pauses doubling from 2 to 50 ms, an exit at 15 ms
 * was noticed only at 30 ms, in a shutdown of about 30 ms in all (bench/startup.ts).
 */
const MAX_EXIT_POLL_MS = 4;

/** Waits until none of `records` is alive or `timeoutMs` passes; returns the ones still alive. */
export async function waitForExit(records: ProcessRecord[], timeoutMs: number): Promise<ProcessRecord[]> {
  let alive = records;
  await pollUntil(() => {
    alive = alive.filter(isAlive);
    return alive.length === 0 ? alive : undefined;
  }, { timeoutMs, firstPauseMs: 1, maxPauseMs: MAX_EXIT_POLL_MS });
  return alive;
}

/**
 * Stops `records` the way pg_ctl's fast mode does: SIGTERM, wait up to `graceMs`, then SIGKILL
 * whatever is left. Returns the records that had to be killed and those that survived even
 * SIGKILL (which should be none).
 */
export async function stopProcesses(
  records: ProcessRecord[],
  options: { graceMs: number },
): Promise<{ killed: ProcessRecord[]; survivors: ProcessRecord[] }> {
  const signalled = records.filter((record) => signalProcess(record, "SIGTERM"));
  const stubborn = await waitForExit(signalled, options.graceMs);
  for (const record of stubborn) signalProcess(record, "SIGKILL");
  const survivors = await waitForExit(stubborn, 2_000);
  return { killed: stubborn, survivors };
}

/** True when a listener can bind `host:port` right now, as the daemons' Bun.serve and Bun.listen will. */
function isPortFree(host: string, port: number): boolean {
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** The ports among `ports` that cannot be bound on `host`, in the order given. */
export async function findBusyPorts(host: string, ports: number[]): Promise<number[]> {
  return ports.filter((port) => !isPortFree(host, port));
}
