/**
 * The golden frames in tests/fixtures/fluvio are what the real Fluvio client sends: the capture
 * is run again here and must reproduce each file byte for byte.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { captureClientFrames, fixtureComment } from "../../../fixtures/fluvio/capture.ts";
import { formatHexFixture, parseHexFixture, readFluvioFixture } from "../../../fixtures/fluvio/hex-fixture.ts";

const FIXTURE_DIR = join(import.meta.dir, "..", "..", "..", "fixtures", "fluvio");
const fixtureNames = () =>
  readdirSync(FIXTURE_DIR)
    .filter((file) => file.endsWith(".hex"))
    .map((file) => file.slice(0, -".hex".length))
    .sort();

test("captureClientFrames() reproduces every fixture byte for byte", async () => {
  const captures = await captureClientFrames();
  expect(captures.map((capture) => capture.name).sort()).toEqual(fixtureNames());
  for (const capture of captures) {
    expect({ name: capture.name, hex: Buffer.from(capture.frame).toString("hex") }).toEqual({
      name: capture.name,
      hex: Buffer.from(readFluvioFixture(capture.name)).toString("hex"),
    });
  }
});

test("captureClientFrames() sends ApiVersions and the three Watch requests first, then one request per admin call", async () => {
  const names = (await captureClientFrames()).map((capture) => capture.name);
  expect(names.slice(0, 4).sort()).toEqual(["api-versions", "watch-partition", "watch-spu", "watch-topic"]);
  expect(names.slice(4)).toEqual(["create-topic", "list-topics", "list-partitions", "list-spus", "delete-topic"]);
});

test("every fixture is one whole frame: its i32 size counts the bytes after it", () => {
  for (const name of fixtureNames()) {
    const frame = readFluvioFixture(name);
    expect({ name, size: new DataView(frame.buffer).getInt32(0) }).toEqual({ name, size: frame.length - 4 });
  }
});

test("every fixture's first line says how it was captured", async () => {
  for (const capture of await captureClientFrames()) {
    const text = await Bun.file(join(FIXTURE_DIR, `${capture.name}.hex`)).text();
    expect(text).toBe(formatHexFixture(fixtureComment(capture), capture.frame));
  }
});

test.each([
  ["# comment\n0001\nff10\n", [0x00, 0x01, 0xff, 0x10]],
  ["# comment\n", []],
  ["# a\n# b\n 0a 0b \n", [0x0a, 0x0b]],
])("parseHexFixture(%p) reads the data lines", (text, bytes) => {
  expect([...parseHexFixture(text)]).toEqual(bytes);
});

test.each(["# comment\n0g\n", "# comment\n012\n", "# comment\nFF\n"])("parseHexFixture(%p) throws on a bad data line", (text) => {
  expect(() => parseHexFixture(text)).toThrow("pairs of lowercase hex digits");
});

test("formatHexFixture() writes 32 bytes a line that parseHexFixture() reads back", () => {
  const bytes = Uint8Array.from({ length: 70 }, (_, index) => index);
  const text = formatHexFixture("seventy bytes", bytes);
  expect(text.split("\n").map((line) => line.length)).toEqual([15, 64, 64, 12, 0]);
  expect(parseHexFixture(text)).toEqual(bytes);
});
