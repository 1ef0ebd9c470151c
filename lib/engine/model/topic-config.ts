/**
 * A topic's storage settings as Fluvio's TopicSpec carries them (retention time, segment size,
 * largest partition size, system), with Fluvio's lower limits (fluvio-types defaults.rs) and
 * the check Fluvio's SC makes on a create (TopicSpec::validate_config). An unset setting means
 * this cluster's default, which README's Fluvio section names: segments of
 * DEFAULT_SEGMENT_BYTES, and no retention or size limit (records are kept until deleted).
 */
import { DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES } from "../storage/segment-size.ts";

/** Fluvio's shortest retention time. */
export const MIN_RETENTION_SECONDS = 10;
/** Fluvio's smallest segment. */
export const MIN_SEGMENT_BYTES = 1024;
/** Fluvio's smallest partition limit: two of the smallest segments. */
export const MIN_MAX_PARTITION_BYTES = 2 * MIN_SEGMENT_BYTES;
/** Retention is a u32 of seconds on Fluvio's wire. */
const MAX_RETENTION_SECONDS = 2 ** 32 - 1;

export { DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES };

/** What a topic asks of its partitions' logs; absent means the default. */
export interface TopicStorageSettings {
  /** Whole segments whose last record is older than this are deleted (Fluvio's cleanup policy). */
  retentionSeconds?: number;
  /** A new segment is started when a batch would take the active one past this many bytes. */
  segmentSize?: number;
  /** The oldest segments are deleted while the partition holds more than this many bytes. */
  maxPartitionSize?: number;
}

/**
 * Why `settings` cannot be honoured, in words that name the fix, or null when they can:
 * Fluvio's limits, and this log's largest segment.
 */
export function storageSettingsProblem(settings: TopicStorageSettings): string | null {
  const { retentionSeconds, segmentSize, maxPartitionSize } = settings;
  if (retentionSeconds !== undefined && !(Number.isInteger(retentionSeconds) && retentionSeconds >= MIN_RETENTION_SECONDS && retentionSeconds <= MAX_RETENTION_SECONDS)) {
    return `retention time must be at least ${MIN_RETENTION_SECONDS} seconds (Fluvio's minimum), not ${retentionSeconds} s`;
  }
  if (segmentSize !== undefined && !(Number.isInteger(segmentSize) && segmentSize >= MIN_SEGMENT_BYTES && segmentSize <= MAX_SEGMENT_BYTES)) {
    return `segment size must be from ${MIN_SEGMENT_BYTES} bytes (Fluvio's minimum) to ${MAX_SEGMENT_BYTES} bytes (this log's largest segment), not ${segmentSize}`;
  }
  if (maxPartitionSize !== undefined) {
    if (!(Number.isSafeInteger(maxPartitionSize) && maxPartitionSize >= MIN_MAX_PARTITION_BYTES)) {
      return `max partition size must be at least ${MIN_MAX_PARTITION_BYTES} bytes (Fluvio's minimum), not ${maxPartitionSize}`;
    }
    const segment = segmentSize ?? DEFAULT_SEGMENT_BYTES;
    if (maxPartitionSize < segment) {
      return `max partition size ${maxPartitionSize} is less than the segment size ${segment}${segmentSize === undefined ? " (the default)" : ""}; raise it or give a smaller segment size`;
    }
  }
  return null;
}
