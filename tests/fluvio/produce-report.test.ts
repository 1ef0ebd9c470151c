import { describe, expect, test } from "bun:test";
import { formatPartitions, formatRanges, reportPartitions, type AcknowledgedBatch } from "../../lib/fluvio/produce-report.ts";

const batch = (partition: number, baseOffset: number, lastOffset: number, attempts = 1): AcknowledgedBatch => ({ partition, baseOffset, lastOffset, attempts });

describe("reportPartitions()", () => {
  const cases: [string, AcknowledgedBatch[], string][] = [
    ["contiguous batches merge into one range", [batch(0, 0, 2), batch(0, 3, 5)], "partition 0 offsets 0..5"],
    ["a gap left by another producer stays a gap", [batch(0, 0, 2), batch(0, 7, 9)], "partition 0 offsets 0..2, 7..9"],
    ["a single record is one offset", [batch(0, 4, 4)], "partition 0 offset 4"],
    ["single records with gaps are listed each", [batch(0, 4, 4), batch(0, 6, 6)], "partition 0 offsets 4, 6"],
    ["batches acknowledged out of order are put in order", [batch(0, 10, 12), batch(0, 0, 9)], "partition 0 offsets 0..12"],
    ["partitions are reported in order, each with its own ranges", [batch(1, 0, 1), batch(0, 0, 2), batch(1, 5, 5)], "partition 0 offsets 0..2, partition 1 offsets 0..1, 5"],
    [
      "a batch acknowledged after a failed attempt is said to be possibly stored twice",
      [batch(0, 0, 2), batch(0, 5, 8, 2)],
      "partition 0 offsets 0..2, 5..8; 4 record(s) acknowledged after a failed attempt may be stored twice",
    ],
  ];
  test.each(cases)("%s", (_, batches, text) => {
    expect(formatPartitions(reportPartitions(batches))).toBe(text);
  });

  test("counts records and keeps the lowest and highest offset beside the ranges", () => {
    expect(reportPartitions([batch(0, 0, 2), batch(0, 7, 9, 3)])).toEqual([
      { partition: 0, records: 6, firstOffset: 0, lastOffset: 9, ranges: [{ first: 0, last: 2 }, { first: 7, last: 9 }], maybeDuplicated: 3 },
    ]);
  });

  test("nothing acknowledged is no partition", () => {
    expect(reportPartitions([])).toEqual([]);
  });
});

describe("formatRanges()", () => {
  test("joins ranges with commas, a range of one as its offset", () => {
    expect(formatRanges([{ first: 0, last: 0 }, { first: 2, last: 3 }])).toBe("offsets 0, 2..3");
  });
});
