/**
 * What `produce` says it wrote, from the batches its leaders acknowledged: per partition the
 * offsets given, as ranges merged only where batches were contiguous (another producer's
 * records in between make a gap, and "offsets 0..9" would claim them), and the batches sent
 * more than once. A batch is sent again when an attempt fails in a way that does not tell
 * whether the leader stored it (it may have, and passed it on before it failed), so a batch
 * acknowledged after a failed attempt may be stored twice: its acknowledged offsets, and one
 * more copy before them.
 */

/** One batch as its leader acknowledged it. */
export interface AcknowledgedBatch {
  partition: number;
  baseOffset: number;
  lastOffset: number;
  /** How many times it was sent: more than 1 after a failed attempt. */
  attempts: number;
}

/** A run of offsets, both ends included. */
export interface OffsetRange {
  first: number;
  last: number;
}

/** What one partition was given. */
export interface PartitionReport {
  partition: number;
  records: number;
  /** The lowest and the highest offset given: the records between are not all this produce's unless `ranges` has one range. */
  firstOffset: number;
  lastOffset: number;
  /** The offsets given, in order, contiguous batches merged. */
  ranges: OffsetRange[];
  /** Records of batches acknowledged after a failed attempt: each may be stored twice. */
  maybeDuplicated: number;
}

/** The acknowledged batches, per partition in partition order. */
export function reportPartitions(batches: readonly AcknowledgedBatch[]): PartitionReport[] {
  const byPartition = new Map<number, AcknowledgedBatch[]>();
  for (const batch of batches) byPartition.set(batch.partition, [...(byPartition.get(batch.partition) ?? []), batch]);
  return [...byPartition.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, partitionBatches]) => {
      const sorted = [...partitionBatches].sort((a, b) => a.baseOffset - b.baseOffset);
      const ranges: OffsetRange[] = [];
      for (const batch of sorted) {
        const last = ranges.at(-1);
        if (last && batch.baseOffset === last.last + 1) last.last = batch.lastOffset;
        else ranges.push({ first: batch.baseOffset, last: batch.lastOffset });
      }
      const size = (batch: AcknowledgedBatch) => batch.lastOffset - batch.baseOffset + 1;
      return {
        partition,
        records: sorted.reduce((sum, batch) => sum + size(batch), 0),
        firstOffset: sorted[0]!.baseOffset,
        lastOffset: Math.max(...sorted.map((batch) => batch.lastOffset)),
        ranges,
        maybeDuplicated: sorted.filter((batch) => batch.attempts > 1).reduce((sum, batch) => sum + size(batch), 0),
      };
    });
}

/** "offsets 0..2, 7..9" ("offset 4" for a single one) */
export function formatRanges(ranges: readonly OffsetRange[]): string {
  const single = ranges.length === 1 && ranges[0]!.first === ranges[0]!.last;
  return `${single ? "offset" : "offsets"} ${ranges.map((range) => (range.first === range.last ? `${range.first}` : `${range.first}..${range.last}`)).join(", ")}`;
}

/** "partition 0 offsets 0..2, partition 1 offsets 0..1; 2 record(s) acknowledged after a retry may be stored twice" */
export function formatPartitions(partitions: readonly PartitionReport[]): string {
  const where = partitions.map((entry) => `partition ${entry.partition} ${formatRanges(entry.ranges)}`).join(", ");
  const duplicated = partitions.reduce((sum, entry) => sum + entry.maybeDuplicated, 0);
  return duplicated > 0 ? `${where}; ${duplicated} record(s) acknowledged after a failed attempt may be stored twice` : where;
}
