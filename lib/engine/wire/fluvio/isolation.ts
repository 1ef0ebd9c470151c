/**
 * Fluvio's Isolation (fluvio-spu-schema src/isolation.rs): ReadUncommitted (tag 0) answers as
 * soon as the leader has the records; ReadCommitted (tag 1) only once the in-sync replicas
 * have them (up to the high watermark). StreamFetch carries it as that u8 tag; Produce carries
 * it as an i16 "acks" (see produce.ts).
 */
export const ISOLATIONS = ["ReadUncommitted", "ReadCommitted"] as const;
export type Isolation = (typeof ISOLATIONS)[number];
