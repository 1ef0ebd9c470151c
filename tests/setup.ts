/**
 * Preloaded before every test file (bunfig.toml): after each test, stop what its clusters
 * started and remove its temp homes, even when the test failed; and the default timeout.
 */
import { afterEach, setDefaultTimeout } from "bun:test";
import { removeTempHomes } from "./helpers.ts";

afterEach(removeTempHomes);

// Tests start real SC and SPU processes: a whole-cluster test needs more than bun's 5 s
// default on a loaded machine. NOTE: bunfig.toml's [test] timeout is not applied by Bun 1.4.5.
setDefaultTimeout(60_000);
