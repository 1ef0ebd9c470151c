/**
 * Preloaded before every test file (bunfig.toml): after each test, stop what its clusters
 * started and remove its temp homes, even when the test failed.
 */
import { afterEach } from "bun:test";
import { removeTempHomes } from "./helpers.ts";

afterEach(removeTempHomes);
