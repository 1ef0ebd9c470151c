/** storageSettingsProblem(): Fluvio's limits on a topic's storage settings, one line per case. */
import { describe, expect, test } from "bun:test";
import { storageSettingsProblem, type TopicStorageSettings } from "../../../lib/engine/model/topic-config.ts";

const CASES: [TopicStorageSettings, RegExp | null][] = [
  [{}, null],
  [{ retentionSeconds: 10 }, null],
  [{ retentionSeconds: 9 }, /at least 10 seconds/],
  [{ retentionSeconds: 1.5 }, /at least 10 seconds/],
  [{ segmentSize: 1024 }, null],
  [{ segmentSize: 1023 }, /from 1024 bytes/],
  [{ segmentSize: 2 ** 31 + 1 }, /largest segment/],
  [{ segmentSize: 1024, maxPartitionSize: 2048 }, null],
  [{ segmentSize: 1024, maxPartitionSize: 2047 }, /at least 2048/],
  [{ segmentSize: 4096, maxPartitionSize: 3000 }, /less than the segment size 4096; raise it/],
  [{ maxPartitionSize: 10_000 }, /less than the segment size 67108864 \(the default\)/],
  [{ maxPartitionSize: 2 ** 40 }, null],
];

describe("storageSettingsProblem()", () => {
  for (const [settings, problem] of CASES) {
    test(`${JSON.stringify(settings)} is ${problem === null ? "accepted" : `refused with ${problem}`}`, () => {
      const found = storageSettingsProblem(settings);
      if (problem === null) expect(found).toBeNull();
      else expect(found).toMatch(problem);
    });
  }
});
