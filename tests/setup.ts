/**
 * Preloaded before every test file (bunfig.toml): after each test, stop what its clusters
 * started and remove its temp homes, even when the test failed; each test its own Fluvio config
 * file (FLV_PROFILE_PATH), so no cluster of a test writes a profile into the real one or meets
 * another test's; and the default timeout.
 */
import { afterEach, beforeEach, setDefaultTimeout } from "bun:test";
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

// Tests start real SC and SPU processes: a whole-cluster test needs more than bun's 5 s
// default on a loaded machine. NOTE: bunfig.toml's [test] timeout is not applied by Bun 1.4.5.
setDefaultTimeout(60_000);
