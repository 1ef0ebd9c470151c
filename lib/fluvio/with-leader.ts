/**
 * Producers and consumers follow a partition's leader across failovers: a request that finds
 * no leader where the SC last said (NOT_LEADER, SPU_UNREACHABLE, LEADER_UNAVAILABLE) asks the
 * SC again after a short backoff and goes to whoever leads now, until a deadline. Any other
 * error, the SC's included, ends it at once: those are answers, not a leader on the move.
 */
import { topicLeaders, type PartitionLeader, type RunningCluster } from "./admin.ts";
import { ClusterError, type ErrorCode } from "../base/errors.ts";
import { pollUntil } from "../base/poll-until.ts";

const FIRST_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 500;
const RETRIABLE = new Set<ErrorCode>(["NOT_LEADER", "SPU_UNREACHABLE", "LEADER_UNAVAILABLE"]);

/** True for the errors a new leader may cure. */
function isLeaderMoving(error: unknown): boolean {
  return error instanceof ClusterError && RETRIABLE.has(error.code);
}

/**
 * Runs `call` against `leader`, and while it fails because the leader moved, against the
 * partition's leader as the SC lists it now, for up to `timeoutMs` from the first failure.
 * Resolves with `call`'s result, the leader that gave it and how many calls it took (a call
 * that failed may still have done its work: a producer must say so); the last error when time
 * runs out.
 */
export async function withLeader<T>(
  options: { cluster: RunningCluster; topic: string; leader: PartitionLeader; timeoutMs: number; signal?: AbortSignal },
  call: (leader: PartitionLeader) => Promise<T>,
): Promise<{ value: T; leader: PartitionLeader; attempts: number }> {
  let leader = options.leader;
  let attempts = 0;
  let failure: ClusterError | undefined;
  const answer = await pollUntil(async () => {
    if (failure) {
      const leaders = await topicLeaders(options.cluster, options.topic);
      leader = leaders.find((entry) => entry.partition === leader.partition) ?? leader;
    }
    attempts++;
    try {
      return { value: await call(leader), leader, attempts };
    } catch (error) {
      if (!isLeaderMoving(error) || options.signal?.aborted) throw error;
      failure = error as ClusterError;
      return undefined;
    }
  }, { timeoutMs: options.timeoutMs, firstPauseMs: FIRST_BACKOFF_MS, maxPauseMs: MAX_BACKOFF_MS });
  if (answer) return answer;
  // Only a try that failed because the leader moved leaves polling without an answer.
  const last = failure!;
  throw new ClusterError(last.code, `${last.message}; no leader answered for partition ${leader.partition} within ${options.timeoutMs / 1000}s`, {
    hint: last.hint,
    cause: last,
  });
}
