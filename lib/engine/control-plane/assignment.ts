/**
 * Where a new topic's partitions live: a pure function of the online SPUs, so it is table-tested
 * apart from the SC that applies it. Replicas of a partition sit on distinct SPUs; leaders
 * rotate round-robin from `start`, which the SC advances by every partition it has placed,
 * so leaders spread across topics as well as within one.
 */

/** The replicas of one partition; the first is its leader. */
export interface ReplicaAssignment {
  partition: number;
  replicas: number[];
}

/**
 * Places `partitions` partitions of `replication` replicas each on `spus` (ids, any order).
 * Throws when `replication` exceeds the number of SPUs: callers check that first, to say why.
 */
export function assignReplicas(options: {
  spus: number[];
  partitions: number;
  replication: number;
  start?: number;
}): ReplicaAssignment[] {
  const spus = [...new Set(options.spus)].sort((a, b) => a - b);
  if (options.replication < 1 || options.replication > spus.length) {
    throw new Error(`cannot place ${options.replication} replicas on ${spus.length} SPU(s)`);
  }
  const start = options.start ?? 0;
  return Array.from({ length: options.partitions }, (_, partition) => ({
    partition,
    replicas: Array.from({ length: options.replication }, (_, index) => spus[(start + partition + index) % spus.length]!),
  }));
}
