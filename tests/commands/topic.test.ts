/** The topic verb's pure parts: Fluvio's duration and size formats read and printed, one line per case. */
import { describe, expect, test } from "bun:test";
import { formatBytes, formatDuration, parseByteSize, parseDuration } from "../../lib/commands/topic.ts";

describe("parseDuration()", () => {
  const CASES: [string, number][] = [
    ["10s", 10],
    ["1h", 3600],
    ["2d 10s", 172_810],
    ["7 days", 604_800],
    ["1h30m", 5400],
    ["1500ms", 1],
    ["1w", 604_800],
  ];
  for (const [text, seconds] of CASES) test(`reads '${text}' as ${seconds} s`, () => expect(parseDuration(text)).toBe(seconds));
  for (const text of ["", "10", "ten seconds", "5 fortnights", "1h x"]) {
    test(`refuses '${text}', naming the format`, () => expect(() => parseDuration(text)).toThrow(/--retention-time takes a duration such as '1h'/));
  }
});

describe("parseByteSize()", () => {
  const CASES: [string, number][] = [
    ["2048", 2048],
    ["1 KB", 1000],
    ["1kb", 1000],
    ["2 Ki", 2048],
    ["10 MiB", 10 * 2 ** 20],
    ["1 GB", 1e9],
    ["1.5 KiB", 1536],
    ["100b", 100],
  ];
  for (const [text, bytes] of CASES) test(`reads '${text}' as ${bytes} bytes`, () => expect(parseByteSize(text, "segment-size")).toBe(bytes));
  for (const text of ["", "KB", "1 KX", "-1", "ten"]) {
    test(`refuses '${text}', naming the format`, () => expect(() => parseByteSize(text, "segment-size")).toThrow(/--segment-size takes a size such as '2048'/));
  }
});

describe("formatDuration() and formatBytes()", () => {
  const DURATIONS: [number, string][] = [
    [10, "10s"],
    [3600, "1h"],
    [604_800, "7d"],
    [90_061, "1d 1h 1m 1s"],
  ];
  for (const [seconds, text] of DURATIONS) test(`prints ${seconds} s as '${text}'`, () => expect(formatDuration(seconds)).toBe(text));
  const SIZES: [number, string][] = [
    [1024, "1 KiB"],
    [64 * 2 ** 20, "64 MiB"],
    [512_000_000, "512 MB"],
    [1500, "1500 B"],
  ];
  for (const [bytes, text] of SIZES) test(`prints ${bytes} bytes as '${text}'`, () => expect(formatBytes(bytes)).toBe(text));
});
