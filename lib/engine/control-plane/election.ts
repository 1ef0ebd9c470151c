/**
 * The SC's leader election, as a pure function of a partition's persisted LeaderAndIsr and the
 * SPUs that are connected, so it is table-tested apart from the SC that applies it.
 *
 * Only an in-sync replica may lead: the persisted in-sync set holds exactly the replicas that
 * have every acknowledged record (a leader counts a member until the SC has recorded its
 * removal). A partition whose in-sync replicas are all offline keeps its leader and waits for
 * one of them to return: there is no unclean election, so nothing acknowledged is ever lost by
 * electing a replica that lacks it.
 */
import type { LeaderAndIsr } from "./store.ts";

/** What to do with one partition: keep it as it is, or record `next` and tell its replicas. */
export type ElectionResult =
  | { kind: "keep" }
  | { kind: "leaderless"; reason: string }
  | { kind: "elect"; next: LeaderAndIsr };

/**
 * Decides the leader of a partition whose replicas are `replicas` (in preference order) and
 * whose current decision is `current`. While the leader is online nothing changes. Otherwise
 * the first online member of the in-sync set (in `replicas` order) leads under the next epoch,
 * and the in-sync set loses the old leader, which may lack what the new leader writes.
 */
export function electLeader(options: {
  replicas: readonly number[];
  current: LeaderAndIsr;
  isOnline: (spuId: number) => boolean;
}): ElectionResult {
  const { leader, leaderEpoch, isr } = options.current;
  if (options.isOnline(leader)) return { kind: "keep" };
  const candidate = options.replicas.find((id) => id !== leader && isr.includes(id) && options.isOnline(id));
  if (candidate === undefined) {
    const others = isr.filter((id) => id !== leader);
    return {
      kind: "leaderless",
      reason:
        others.length === 0
          ? `leader SPU ${leader} is offline and is the only in-sync replica`
          : `leader SPU ${leader} is offline and so are the other in-sync replicas (${others.join(", ")})`,
    };
  }
  return {
    kind: "elect",
    next: { leader: candidate, leaderEpoch: leaderEpoch + 1, isr: options.replicas.filter((id) => id !== leader && isr.includes(id)) },
  };
}
