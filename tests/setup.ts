/**
 * Preloaded before every test file (bunfig.toml): after each test, stop what its clusters
 * started and remove its temp homes, even when the test failed; and each test its own Fluvio
 * config file (FLV_PROFILE_PATH), so no cluster of a test writes a profile into the real one or
 * meets another test's. The per-test timeout is the command line's (README: `--timeout 60000`).
 */
import { afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeTempHomes } from "./helpers.ts";

let fluvioDir: string | undefined;
beforeEach(() => {
  fluvioDir = mkdtempSync(join(tmpdir(), "cluster-test-fluvio-"));
  process.env.FLV_PROFILE_PATH = join(fluvioDir, "config");
});
afterEach(async () => {
  await removeTempHomes();
  if (fluvioDir) rmSync(fluvioDir, { recursive: true, force: true });
});
