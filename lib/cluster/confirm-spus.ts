/**
 * `confirmSpus` closes `create` and `resume`: it polls the SC until the set of registered SPU
 * ids and the set of online SPU ids both equal the expected set, exactly. This is the fix for
 * the reference tool, which compared a *count* over every SPU the SC ever stored and so waited
 * forever for "3/1 SPU confirmed". `resume` then waits for every partition's leader too
 * (`confirmLeaders`), so a resumed cluster serves every topic.
 *
 * NOTE: the SC client (admin.ts, with Fluvio's codec) loads when a confirmation starts: `create`
 * and `resume` import this file for its sets and messages before they start anything, and
 * loading the client then would delay every process they start by about 4 ms.
 */
import type { AdminTarget, SpuReport } from "../fluvio/admin.ts";
import { ClusterError } from "../base/errors.ts";
import { logFileOf, type ClusterPaths } from "./home.ts";
import { isAlive } from "../base/procs.ts";
import { componentName } from "./launch.ts";
import type { LifecycleVerb } from "./plan.ts";
import { pollUntil, type PollOptions } from "../base/poll-until.ts";
import type { ProcessEntry } from "./state.ts";
import type { PartitionView } from "../fluvio/admin.ts";

/** The SC's view compared with the spec. */
export interface SpuSets {
  expected: number[];
  registered: number[];
  online: number[];
  /** Expected but not registered. */
  unregistered: number[];
  /** Registered but not in the spec. */
  extra: number[];
  /** Expected and registered, but not online. */
  offline: number[];
  confirmed: boolean;
}

/** How long `create` and `resume` wait for the SPU set unless `--timeout` says otherwise. */
export const DEFAULT_CONFIRM_SECONDS = 30;
const LOG_TAIL_LINES = 15;
const TIMEOUT_TAIL_LINES = 5;
const FIRST_POLL_MS = 2;
/**
 * NOTE: a poll is one loopback request to the SC (about 0.1 ms of CPU on either side), so a
 * short cap costs little; a 50 ms cap left create 3 SPUs waiting ~30 ms after the last SPU
 * came online (bench/lifecycle.ts), and an 8 ms cap about 4 ms on average, against a create
 * of 60 to 100 ms (bench/startup.ts).
 */
const MAX_POLL_MS = 4;
/** A poll of the partitions pauses 1 ms more per this many partitions listed. */
const LISTED_PER_MS = 25;
/** Progress names this many partitions still waited for, then says how many more. */
const SHOWN_WAITING = 5;

function confirmPolling(timeoutMs: number): PollOptions {
  return { timeoutMs, firstPauseMs: FIRST_POLL_MS, maxPauseMs: MAX_POLL_MS };
}

function sorted(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

/** Compares the expected ids with what the SC reports: confirmed only when the sets are equal. */
export function compareSpuSets(expected: number[], reports: SpuReport[]): SpuSets {
  const expectedSet = new Set(expected);
  const registered = sorted(reports.map((spu) => spu.id));
  const online = sorted(reports.filter((spu) => spu.online).map((spu) => spu.id));
  const registeredSet = new Set(registered);
  const onlineSet = new Set(online);
  const unregistered = sorted(expected.filter((id) => !registeredSet.has(id)));
  const extra = registered.filter((id) => !expectedSet.has(id));
  const offline = sorted(expected.filter((id) => registeredSet.has(id) && !onlineSet.has(id)));
  return {
    expected: sorted(expected),
    registered,
    online,
    unregistered,
    extra,
    offline,
    confirmed: unregistered.length === 0 && extra.length === 0 && offline.length === 0 && online.length === expected.length,
  };
}

/** "5001, 5002 and 5003" */
export function formatIds(ids: number[]): string {
  if (ids.length <= 1) return ids.join("");
  return `${ids.slice(0, -1).join(", ")} and ${ids.at(-1)}`;
}

/** "SPUs 2/3 online, waiting for 5003" (or that the SC is still starting). */
export function formatSpuProgress(sets: SpuSets | undefined): string {
  if (!sets) return "waiting for the SC to answer";
  const waiting = [...sets.unregistered, ...sets.offline].sort((a, b) => a - b);
  return `SPUs ${sets.online.length}/${sets.expected.length} online, waiting for ${formatIds(waiting)}`;
}

export interface ConfirmOptions {
  paths: ClusterPaths;
  /** The SC's admin API and the cluster token. */
  admin: AdminTarget;
  expected: number[];
  /** The processes to watch: one that exits fails the confirmation at once. */
  processes: ProcessEntry[];
  timeoutMs: number;
  /**
   * Which verb is confirming. A failed `create` removes the cluster, logs included, so its
   * errors carry the log lines themselves and say to run `create` again, not `resume`.
   */
  verb: LifecycleVerb;
  onProgress?: (sets: SpuSets | undefined) => void;
}

/** Polls until the SPU sets are confirmed and returns them; throws SPU_EXTRA, SPU_DIED, SC_DIED or SPU_CONFIRM_TIMEOUT. */
export async function confirmSpus(options: ConfirmOptions): Promise<SpuSets> {
  const { paths, expected } = options;
  const { listSpus } = await import("../fluvio/admin.ts");
  let last: SpuSets | undefined;
  const confirmed = await pollUntil(async () => {
    ensureProcessesAlive(options);
    const reports = await listSpus(options.admin).catch((error) => {
      if (error instanceof ClusterError && error.code === "SC_UNREACHABLE") return undefined;
      throw error;
    });
    if (reports) {
      last = compareSpuSets(expected, reports);
      if (last.extra.length > 0) throw extraSpusError(paths.name, last.extra);
      if (last.confirmed) return last;
    }
    options.onProgress?.(last);
    return undefined;
  }, confirmPolling(options.timeoutMs));
  if (!confirmed) throw timeoutError(options, last);
  return confirmed;
}

/** Names of the partitions whose leader has not reported back: "orders-0 (leader SPU 5002)". */
export function leaderlessPartitions(partitions: PartitionView[]): string[] {
  return partitions.filter((partition) => !partition.online).map((partition) => `${partition.topic}-${partition.partition} (leader SPU ${partition.leader})`);
}

/**
 * Polls the SC until every partition is online: its leader has reported its log open and its
 * high watermark known (every record acknowledged before it took the lead readable, so a
 * reader after `resume` sees all of them); returns how many partitions there are. Throws
 * LEADER_UNAVAILABLE naming those still waited for.
 */
export async function confirmLeaders(options: {
  admin: AdminTarget;
  logsDir: string;
  timeoutMs: number;
  onProgress?: (text: string) => void;
}): Promise<number> {
  const { listPartitions } = await import("../fluvio/admin.ts");
  let waiting: string[] = [];
  const count = await pollUntil(async () => {
    const partitions = await listPartitions(options.admin);
    waiting = leaderlessPartitions(partitions);
    if (waiting.length === 0) return partitions.length;
    const shown = waiting.length > SHOWN_WAITING ? `${waiting.slice(0, SHOWN_WAITING).join(", ")} and ${waiting.length - SHOWN_WAITING} more` : waiting.join(", ");
    options.onProgress?.(`partition leaders ${partitions.length - waiting.length}/${partitions.length} back, waiting for ${shown}`);
    // NOTE: a List of 1,000 partitions took the SC about 3 ms of CPU to build and encode here:
    // polled every 4 ms, it would take close to half a core from the SC while the SPUs catch
    // up. So the pause grows with the count (40 ms at 1,000; nothing to speak of at 10).
    await Bun.sleep(partitions.length / LISTED_PER_MS);
    return undefined;
  }, confirmPolling(options.timeoutMs));
  if (count !== undefined) return count;
  throw new ClusterError(
    "LEADER_UNAVAILABLE",
    `${waiting.length} partition(s) have no leader serving every acknowledged record after ${options.timeoutMs / 1000}s: ${waiting.join(", ")}`,
    { hint: `see the SPU logs in '${options.logsDir}' (a new leader serves once its in-sync followers have fetched from it), or raise --timeout` },
  );
}

function ensureProcessesAlive(options: ConfirmOptions): void {
  const { paths } = options;
  for (const entry of options.processes) {
    if (isAlive(entry)) continue;
    const component = componentName(entry);
    const logFile = logFileOf(paths, component);
    const what = entry.role === "sc" ? "the SC" : `SPU ${entry.id}`;
    const hint =
      options.verb === "create"
        ? `fix the cause above, then run 'cluster create --name ${paths.name}' again (the failed create removed the cluster)`
        : `fix the cause above ('cluster logs ${component} --name ${paths.name}' shows more), then run 'cluster resume --name ${paths.name}'`;
    throw new ClusterError(
      entry.role === "sc" ? "SC_DIED" : "SPU_DIED",
      `${what} (pid ${entry.pid}) exited while starting; last lines of '${logFile}':\n${readLastLines(logFile, LOG_TAIL_LINES).join("\n")}`,
      { hint },
    );
  }
}

function extraSpusError(name: string, extra: number[]): ClusterError {
  const plural = extra.length > 1 ? "s" : "";
  return new ClusterError(
    "SPU_EXTRA",
    `the SC of cluster '${name}' has SPU${plural} ${formatIds(extra)} registered, which its spec does not have`,
    {
      hint:
        extra.map((id) => `'cluster spu unregister --id ${id} --name ${name}'`).join(", ") +
        ` removes ${extra.length > 1 ? "them" : "it"}; then run 'cluster resume --name ${name}'`,
    },
  );
}

function timeoutError(options: ConfirmOptions, last: SpuSets | undefined): ClusterError {
  const seconds = options.timeoutMs / 1000;
  const name = options.paths.name;
  const hint =
    options.verb === "create"
      ? `raise --timeout, or fix the cause in the log lines above, then run 'cluster create --name ${name}' again (the failed create removed the cluster)`
      : `see 'cluster logs --name ${name}', or raise --timeout`;
  if (!last) {
    return new ClusterError(
      "SPU_CONFIRM_TIMEOUT",
      `the SC of cluster '${name}' did not answer within ${seconds}s${logTails(options.paths, ["sc"])}`,
      { hint },
    );
  }
  const waiting = [...last.unregistered.map((id) => `${id} (not registered)`), ...last.offline.map((id) => `${id} (offline)`)];
  return new ClusterError(
    "SPU_CONFIRM_TIMEOUT",
    `SPUs ${last.online.length}/${last.expected.length} online after ${seconds}s; still waiting for ${waiting.join(", ")}` +
      logTails(options.paths, [...last.unregistered, ...last.offline].map((id) => `spu-${id}`)),
    { hint },
  );
}

/** The last few lines of each component's log, for an error that must explain itself. */
function logTails(paths: ClusterPaths, components: string[]): string {
  return components
    .map((component) => {
      const logFile = logFileOf(paths, component);
      return `\nlast lines of '${logFile}':\n${readLastLines(logFile, TIMEOUT_TAIL_LINES).join("\n")}`;
    })
    .join("");
}

/** The last `count` lines of a log, for an error; file-tail.ts is loaded only on these paths, which `status` never takes. */
function readLastLines(logFile: string, count: number): string[] {
  return (require("../base/file-tail.ts") as typeof import("../base/file-tail.ts")).readLastLines(logFile, count).lines;
}
