/**
 * The sizes a partition log's segments roll at, apart from the log (partition-log.ts) so that
 * what checks a topic's settings (the model, and the CLI through it) loads neither the log nor
 * the batch format under it.
 */

/** Default size past which the active segment is rolled: 64 MiB. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Largest allowed segment, so that byte positions fit the u32 index field with room for one oversized batch. */
export const MAX_SEGMENT_BYTES = 2 ** 31;
