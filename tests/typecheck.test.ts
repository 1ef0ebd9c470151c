import { expect, test } from "bun:test";
import { join } from "node:path";

// Bun runs TypeScript without checking it; this keeps the types honest in CI.
test("the project type-checks with tsc --noEmit", () => {
  const root = join(import.meta.dir, "..");
  const result = Bun.spawnSync([process.execPath, join(root, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", root]);
  expect(result.stdout.toString() + result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
}, 120_000);
