/**
 * Upgrading from the per-record partition log: a cluster that the code before the batch log
 * wrote (tests/fixtures/per-record-cluster, made by its make.sh with commit d38a8ae: real
 * old-format bytes) resumes with every record, and the conversion itself, run on a copy of one
 * of its partition directories, keeps every record, the high watermark and epoch starts at
 * batch edges, a torn old tail dropped as the old log would, and finishes after a crash at any
 * of its steps.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogUpgradeError, upgradePartitionDir } from "../../../lib/engine/storage/log-upgrade.ts";
import { isPerRecordFormat, openPartitionLog } from "../../../lib/engine/storage/partition-log.ts";
import { decodeBatches } from "../../../lib/engine/wire/fluvio/record-batch.ts";
import { valuesOf } from "../../batches.ts";
import { ok } from "../../cluster-data.ts";
import { tempHome } from "../../helpers.ts";

const FIXTURE = join(import.meta.dir, "..", "..", "fixtures", "per-record-cluster");
/** The home the fixture cluster was made in: its spec and profile name it. */
const ORIGINAL_HOME = "/tmp/i17/oldhome";
/** What `cluster consume legacy -B -d` printed on the old code. */
const EXPECTED = readFileSync(join(FIXTURE, "expected.txt"), "utf8").split("\n").slice(0, -1);

/** The temp directories the copies below are in, removed after each test. */
const madeDirs: string[] = [];
afterEach(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of SPU `spu`'s old partition directory in a fresh temp directory. */
function oldPartitionCopy(spu = 5001): string {
  const parent = mkdtempSync(join(tmpdir(), "log-upgrade-test-"));
  madeDirs.push(parent);
  const dir = join(parent, "legacy-0");
  cpSync(join(FIXTURE, "local", "data", `spu-${spu}`, "legacy-0"), dir, { recursive: true });
  return dir;
}

function valuesIn(dir: string): { values: string[]; batchBases: number[] } {
  const log = openPartitionLog(dir);
  try {
    const values: string[] = [];
    const batchBases: number[] = [];
    for (let offset = 0; offset < log.endOffset; ) {
      const { bytes, nextOffset } = log.read(offset, { maxBytes: 1 << 20 });
      values.push(...valuesOf(bytes, offset));
      batchBases.push(...decodeBatches(bytes).map((batch) => batch.baseOffset));
      offset = nextOffset;
    }
    return { values, batchBases };
  } finally {
    log.close();
  }
}

describe("upgradePartitionDir()", () => {
  test("upgradePartitionDir() converts an old partition directory, keeping every record and its offsets", () => {
    const dir = oldPartitionCopy();
    expect(isPerRecordFormat(dir)).toBe(true);
    expect(() => openPartitionLog(dir)).toThrow("per-record format");
    expect(upgradePartitionDir(dir)).toEqual({ records: 303, tornBytes: 0 });
    expect(isPerRecordFormat(dir)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["00000000000000000000.index", "00000000000000000000.log", "high-watermark", "leader-epochs", "log-format", "replica.json"]);
    const { values, batchBases } = valuesIn(dir);
    expect(values).toEqual(EXPECTED);
    // The epoch that began at 253 (the old cluster's resume) starts a batch
    expect(readFileSync(join(dir, "leader-epochs"), "utf8")).toBe("0 0\n1 253\n");
    expect(batchBases).toContain(253);
    expect(upgradePartitionDir(dir)).toBeNull();
  });

  test("upgradePartitionDir() drops a torn old tail as the old log did on open", () => {
    const dir = oldPartitionCopy(5002);
    const segment = join(dir, "00000000000000000000.log");
    truncateSync(segment, readFileSync(segment).length - 3);
    const result = upgradePartitionDir(dir)!;
    expect(result.records).toBe(302);
    expect(result.tornBytes).toBeGreaterThan(3);
    expect(valuesIn(dir).values).toEqual(EXPECTED.slice(0, 302));
  });

  test.each([
    ["after the new log was committed", false],
    ["after the old segments were replaced by the format file", true],
  ])("upgradePartitionDir() finishes a conversion interrupted %s", (_, formatMoved) => {
    // The new log as step 1 leaves it, built from a copy
    const converted = oldPartitionCopy();
    upgradePartitionDir(converted);
    const dir = oldPartitionCopy();
    cpSync(converted, join(dir, "upgrade"), { recursive: true });
    for (const file of ["high-watermark", "leader-epochs", "replica.json"]) rmSync(join(dir, "upgrade", file));
    if (formatMoved) {
      for (const file of readdirSync(dir)) if (/^\d{20}\.(log|index)$/.test(file)) rmSync(join(dir, file));
      renameSync(join(dir, "upgrade", "log-format"), join(dir, "log-format"));
    }
    expect(upgradePartitionDir(dir)).toEqual({ records: 0, tornBytes: 0 });
    expect(existsSync(join(dir, "upgrade"))).toBe(false);
    expect(valuesIn(dir).values).toEqual(EXPECTED);
  });

  test("upgradePartitionDir() leaves an old directory alone when a closed segment is corrupt before its end", () => {
    const dir = oldPartitionCopy();
    const old = readFileSync(join(dir, "00000000000000000000.log"));
    // A second segment after it makes the first a closed one
    writeFileSync(join(dir, "00000000000000000303.log"), new Uint8Array(0));
    old[100] ^= 0xff;
    writeFileSync(join(dir, "00000000000000000000.log"), old);
    expect(() => upgradePartitionDir(dir)).toThrow("is corrupt before its end");
    expect(isPerRecordFormat(dir)).toBe(true);
    expect(readFileSync(join(dir, "00000000000000000000.log"))).toEqual(old);
  });
});

test("upgradePartitionDir() refuses, changing nothing, a batch log that lost its log-format file rather than read it as a torn old log", () => {
  const dir = oldPartitionCopy();
  upgradePartitionDir(dir);
  rmSync(join(dir, "log-format"));
  const segment = readFileSync(join(dir, "00000000000000000000.log"));
  expect(() => upgradePartitionDir(dir)).toThrow(LogUpgradeError);
  expect(() => upgradePartitionDir(dir)).toThrow("holds segments in no format this SPU knows");
  expect(readFileSync(join(dir, "00000000000000000000.log"))).toEqual(segment);
  expect(existsSync(join(dir, "upgrade.tmp"))).toBe(false);
});

describe("a cluster written by the per-record log", () => {
  test("resumes with every record after its SPUs convert their logs, and takes new records", async () => {
    const home = tempHome();
    cpSync(join(FIXTURE, "local"), join(home, "local"), { recursive: true });
    for (const file of ["cluster.yaml", "fluvio-profile.yaml"]) {
      const path = join(home, "local", file);
      writeFileSync(path, readFileSync(path, "utf8").replaceAll(ORIGINAL_HOME, home));
    }
    await ok(home, ["resume"]);
    expect((await ok(home, ["consume", "legacy", "-B", "-d"])).stdout).toBe(`${EXPECTED.join("\n")}\n`);
    await ok(home, ["produce", "legacy"], "new 1\nnew 2\n");
    expect((await ok(home, ["consume", "legacy", "-B", "-d"])).stdout).toBe(`${[...EXPECTED, "new 1", "new 2"].join("\n")}\n`);
    for (const spu of [5001, 5002]) {
      expect(readFileSync(join(home, "local", "logs", `spu-${spu}.log`), "utf8")).toContain("converted 'legacy-0' from the per-record format of earlier versions: 303 record(s) kept as batches");
      expect(isPerRecordFormat(join(home, "local", "data", `spu-${spu}`, "legacy-0"))).toBe(false);
    }
  });
});
