/**
 * The leader's two replication decisions, as pure functions of what it knows about its
 * followers: the high watermark (the offset below which every in-sync replica holds a record
 * durably, so it is acknowledged and visible to consumers) and the in-sync replica set it should
 * ask the SC to record. Kafka's rules: a follower leaves the ISR when its connection drops or it
 * has not caught up for `maxLagMs`, and rejoins once it has caught up to the high watermark.
 */

/** What a leader knows about one follower of a partition. */
export interface FollowerState {
  /** The follower's end offset: its last fetch asked for this offset, so it holds everything before it durably. */
  endOffset: number;
  /** When the follower last fetched from at least the leader's end offset of its previous fetch. */
  caughtUpAt: number;
  /** A fetch connection of this follower closed and no other has replaced it. */
  disconnected: boolean;
}

/**
 * The high watermark for in-sync set `isr`: the lowest end offset among its members (the
 * leader's own counts only once fsynced). It never moves back: `previous` is its floor.
 */
export function highWatermark(options: {
  leader: number;
  leaderSyncedEnd: number;
  isr: readonly number[];
  followers: ReadonlyMap<number, FollowerState>;
  previous: number;
}): number {
  let low = options.leaderSyncedEnd;
  for (const id of options.isr) {
    if (id === options.leader) continue;
    low = Math.min(low, options.followers.get(id)?.endOffset ?? 0);
  }
  return Math.max(low, options.previous);
}

/**
 * The in-sync set the leader wants, in the order of `replicas`: the leader, every member still
 * connected and not lagging, and every other follower that is connected, not lagging and at or
 * past the high watermark.
 */
export function desiredIsr(options: {
  leader: number;
  replicas: readonly number[];
  isr: readonly number[];
  followers: ReadonlyMap<number, FollowerState>;
  highWatermark: number;
  now: number;
  maxLagMs: number;
}): number[] {
  return options.replicas.filter((id) => {
    if (id === options.leader) return true;
    const follower = options.followers.get(id);
    if (follower === undefined || follower.disconnected || options.now - follower.caughtUpAt > options.maxLagMs) return false;
    return options.isr.includes(id) || follower.endOffset >= options.highWatermark;
  });
}

/** True when `a` and `b` hold the same ids, in any order. */
export function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
