import { describe, expect, test } from "bun:test";
import { API_VERSIONS_KEY, SC_API_KEY, SC_API_VERSIONS, SPU_API_KEY, SPU_API_VERSIONS } from "../../../../lib/engine/wire/fluvio/api-keys.ts";
import {
  decodeApiVersionsRequest,
  decodeApiVersionsResponse,
  encodeApiVersionsRequest,
  encodeApiVersionsResponse,
  negotiateVersion,
} from "../../../../lib/engine/wire/fluvio/api-versions.ts";
import { decodeErrorCode, encodeErrorCode, errorCodeTag, type ErrorCode } from "../../../../lib/engine/wire/fluvio/error-code.ts";
import { FluvioDecodeError, FluvioEncodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameSplitter,
  MIN_REQUEST_BYTES,
  MIN_RESPONSE_BYTES,
} from "../../../../lib/engine/wire/fluvio/framing.ts";
import { Reader } from "../../../../lib/engine/wire/fluvio/reader.ts";
import { varintSize, type Writer } from "../../../../lib/engine/wire/fluvio/writer.ts";
import { bytes, decodedWhole, encoded, hex } from "../../../fluvio-bytes.ts";

/** The 43 bytes the real client (@fluvio/client 0.14.9) sent first, captured on a raw socket. */
const CAPTURED_API_VERSIONS = bytes('00000027 0012 0002 00000001 0006 "fluvio" 0006 "0.14.9" 0005 "linux" 0006 "x86_64"');

describe("Writer and Reader", () => {
  const cases: [string, (w: Writer) => void, (r: Reader) => unknown, unknown, string][] = [
    ["u8 5", (w) => w.u8(5), (r) => r.u8(), 5, "05"],
    ["i8 -1", (w) => w.i8(-1), (r) => r.i8(), -1, "ff"],
    ["i16 -2", (w) => w.i16(-2), (r) => r.i16(), -2, "fffe"],
    ["u16 16", (w) => w.u16(16), (r) => r.u16(), 16, "0010"],
    ["i32 5", (w) => w.i32(5), (r) => r.i32(), 5, "00000005"],
    ["i32 min", (w) => w.i32(-0x8000_0000), (r) => r.i32(), -0x8000_0000, "80000000"],
    ["u32 max-1", (w) => w.u32(0xffff_fffe), (r) => r.u32(), 0xffff_fffe, "fffffffe"],
    ["i64 -1", (w) => w.i64(-1), (r) => r.i64(), -1, "ffffffffffffffff"],
    ["i64 2^32", (w) => w.i64(2 ** 32), (r) => r.i64(), 2 ** 32, "0000000100000000"],
    ["i64 max safe", (w) => w.i64(Number.MAX_SAFE_INTEGER), (r) => r.i64(), Number.MAX_SAFE_INTEGER, "001fffffffffffff"],
    ["i64 min safe", (w) => w.i64(Number.MIN_SAFE_INTEGER), (r) => r.i64(), Number.MIN_SAFE_INTEGER, "ffe0000000000001"],
    ["u64 16", (w) => w.u64(16), (r) => r.u64(), 16, "0000000000000010"],
    ["bool true", (w) => w.bool(true), (r) => r.bool(), true, "01"],
    ["bool false", (w) => w.bool(false), (r) => r.bool(), false, "00"],
    ["string wo", (w) => w.string("wo"), (r) => r.string(), "wo", '0002 "wo"'],
    ["string empty", (w) => w.string(""), (r) => r.string(), "", "0000"],
    ["string utf-8", (w) => w.string("é"), (r) => r.string(), "é", "0002 c3a9"],
    ["Option<String> none", (w) => w.optionString(null), (r) => r.optionString(), null, "00"],
    ["Option<String> some", (w) => w.optionString("wo"), (r) => r.optionString(), "wo", '01 0002 "wo"'],
    ["Option<u32> some", (w) => w.option(272, (x, v) => x.u32(v)), (r) => r.option("n", (x) => x.u32()), 272, "01 00000110"],
    ["Vec<String>", (w) => w.vec(["test"], (x, v) => x.string(v)), (r) => r.vec("names", (x) => x.string()), ["test"], '00000001 0004 "test"'],
    ["Vec<i32> empty", (w) => w.vec([], (x, v: number) => x.i32(v)), (r) => r.vec("ids", (x) => x.i32()), [], "00000000"],
    ["Vec<u8>", (w) => w.bytes(new Uint8Array([0x10, 0x11])), (r) => [...r.bytesField()], [0x10, 0x11], "00000002 1011"],
    [
      "BTreeMap<u32, Vec<i32>> sorted by key",
      (w) => w.map(new Map([[2, [1]], [1, []]]), (x, k) => x.u32(k), (x, v) => x.vec(v, (y, i) => y.i32(i))),
      (r) => [...r.map("replica map", (x) => x.u32(), (x) => x.vec("replicas", (y) => y.i32()))],
      [[1, []], [2, [1]]],
      "0002 00000001 00000000 00000002 00000001 00000001",
    ],
    [
      "BTreeMap<String, String> sorted by bytes",
      (w) => w.map(new Map([["b", "2"], ["a", "1"]]), (x, k) => x.string(k), (x, v) => x.string(v)),
      (r) => [...r.map("params", (x) => x.string(), (x) => x.string())],
      [["a", "1"], ["b", "2"]],
      '0002 0001 "a" 0001 "1" 0001 "b" 0001 "2"',
    ],
  ];
  test.each(cases)("%s encodes to its golden bytes and back", (_name, write, read, value, golden) => {
    expect(hex(encoded(write))).toBe(hex(bytes(golden)));
    expect(decodedWhole(bytes(golden), read)).toEqual(value);
  });

  // Fluvio's varint.rs test set, then edges: group boundaries and the i32 limits.
  const varints: [number, string][] = [
    [0, "00"], [-1, "01"], [1, "02"], [63, "7e"], [7, "0e"], [10, "14"], [4, "08"], [8191, "fe7f"],
    [-134217729, "8180808001"], [64, "8001"], [-64, "7f"], [2 ** 27 - 1, "feffff7f"], [2 ** 27, "8080808001"], [-65, "8101"], [0x3fff_ffff, "feffffff07"],
    [0x4000_0000, "8080808008"], [-0x4000_0001, "8180808008"], [0x7fff_ffff, "feffffff0f"], [-0x8000_0000, "ffffffff0f"],
  ];
  test.each(varints)("varint %p encodes as %s and back", (value, golden) => {
    expect(hex(encoded((w) => w.varint(value)))).toBe(golden);
    expect(varintSize(value)).toBe(golden.length / 2);
    expect(decodedWhole(bytes(golden), (r) => r.varint())).toBe(value);
  });

  test("varint agrees with a 64-bit zigzag reference beyond 32 bits", () => {
    const reference = (value: number): string => {
      let zigzag = (BigInt(value) << 1n) ^ (BigInt(value) >> 63n);
      zigzag = BigInt.asUintN(64, zigzag);
      let out = "";
      do {
        const low = Number(zigzag & 0x7fn);
        zigzag >>= 7n;
        out += (zigzag > 0n ? low | 0x80 : low).toString(16).padStart(2, "0");
      } while (zigzag > 0n);
      return out;
    };
    for (const value of [2 ** 31, -(2 ** 31) - 1, 2 ** 35 + 7, -(2 ** 40), 1_700_000_000_000, 2 ** 52 - 1, -(2 ** 52)]) {
      expect(hex(encoded((w) => w.varint(value)))).toBe(reference(value));
      expect(decodedWhole(bytes(reference(value)), (r) => r.varint())).toBe(value);
    }
  });

  const malformed: [string, string, (r: Reader) => unknown, string][] = [
    ["a truncated i32", "000001", (r) => r.i32("size"), "cannot decode size at byte 0: needs 4 byte(s), 3 remain"],
    ["a bool byte of 2", "02", (r) => r.bool("dry run"), "bool byte is 2"],
    ["a string longer than the bytes", '0005 "abc"', (r) => r.string("name"), "cannot decode name at byte 2: needs 5 byte(s), 3 remain"],
    ["a string of invalid UTF-8", "0002 c328", (r) => r.string("name"), "not valid UTF-8"],
    ["a Vec claiming 2^31 items in a 10-byte frame", "80000000 000000000000", (r) => r.vec("topics", (x) => x.string()), "count 2147483648 needs more than the 6 byte(s)"],
    ["a Vec<i32> claiming more items than 4-byte slots", "00000003 0000000000000000", (r) => r.vec("replicas", (x) => x.i32(), 4), "count 3 needs more"],
    ["a map claiming more pairs than bytes", "ffff 0000", (r) => r.map("params", (x) => x.string(), (x) => x.string()), "count 65535 needs more"],
    ["an i64 beyond the safe integer range", "0020000000000000", (r) => r.i64("offset"), "outside the safe integer range"],
    ["a truncated varint", "80", (r) => r.varint("record length"), "varint runs past the end"],
    ["an 11-byte varint", "ffffffffffffffffffff01", (r) => r.varint("record length"), "longer than 10 bytes"],
  ];
  test.each(malformed)("Reader rejects %s with FluvioDecodeError", (_name, input, read, message) => {
    expect(() => read(new Reader(bytes(input)))).toThrow(FluvioDecodeError);
    expect(() => read(new Reader(bytes(input)))).toThrow(message);
  });

  const unencodable: [string, (w: Writer) => void][] = [
    ["u8 256", (w) => w.u8(256)],
    ["i32 2^31", (w) => w.i32(2 ** 31)],
    ["u32 -1", (w) => w.u32(-1)],
    ["i64 2^53", (w) => w.i64(2 ** 53)],
    ["i16 1.5", (w) => w.i16(1.5)],
    ["a string of 40000 bytes", (w) => w.string("x".repeat(40_000))],
  ];
  test.each(unencodable)("Writer refuses %s with FluvioEncodeError", (_name, write) => {
    expect(() => encoded(write)).toThrow(FluvioEncodeError);
  });

  test("Writer grows past its initial capacity", () => {
    const value = new Uint8Array(10_000).fill(7);
    expect(decodedWhole(encoded((w) => w.bytes(value)), (r) => r.bytesField())).toEqual(value);
  });
});

describe("framing", () => {
  test("the real client's ApiVersions request decodes and re-encodes byte for byte", () => {
    const [payload] = new FrameSplitter({ minBytes: MIN_REQUEST_BYTES }).push(CAPTURED_API_VERSIONS);
    const { header, body } = decodeRequest(payload!);
    expect(header).toEqual({ apiKey: API_VERSIONS_KEY, apiVersion: 2, correlationId: 1, clientId: "fluvio" });
    const request = decodeApiVersionsRequest(body, header.apiVersion);
    expect(request).toEqual({ clientVersion: "0.14.9", clientOs: "linux", clientArch: "x86_64" });
    expect(body.remaining).toBe(0);
    expect(hex(encodeRequest(header, (w) => encodeApiVersionsRequest(w, request, header.apiVersion)))).toBe(hex(CAPTURED_API_VERSIONS));
  });

  test("encodeResponse() frames the correlation id and body", () => {
    expect(hex(encodeResponse(7, (w) => w.u8(1)))).toBe(hex(bytes("00000005 00000007 01")));
    const { correlationId, body } = decodeResponse(bytes("00000007 01"));
    expect([correlationId, body.u8()]).toEqual([7, 1]);
  });

  const stream = Buffer.concat([
    CAPTURED_API_VERSIONS,
    encodeRequest({ apiKey: 1004, apiVersion: 16, correlationId: 2, clientId: "dummy" }, (w) => w.raw(new Uint8Array(5000).fill(9))),
    encodeRequest({ apiKey: 1003, apiVersion: 16, correlationId: 3, clientId: "" }, () => {}),
  ]);
  test.each([1, 2, 3, 4, 5, 7, 43, 44, 1000, stream.length])("FrameSplitter.push() reassembles frames from chunks of %p bytes", (size) => {
    const splitter = new FrameSplitter({ minBytes: MIN_REQUEST_BYTES });
    const payloads: Uint8Array[] = [];
    for (let start = 0; start < stream.length; start += size) payloads.push(...splitter.push(stream.subarray(start, start + size)));
    expect(payloads.map((payload) => decodeRequest(payload).header.correlationId)).toEqual([1, 2, 3]);
    expect(payloads.map((payload) => payload.byteLength)).toEqual([39, 10 + 5 + 5000, 10]);
    expect(payloads[1]!.subarray(-5000).every((byte) => byte === 9)).toBe(true);
    expect(splitter.buffered).toBe(0);
  });

  test("FrameSplitter.push() keeps a truncated frame until the rest arrives", () => {
    const splitter = new FrameSplitter({ minBytes: MIN_REQUEST_BYTES });
    expect(splitter.push(CAPTURED_API_VERSIONS.subarray(0, 42))).toEqual([]);
    expect(splitter.buffered).toBe(42);
    expect(splitter.push(CAPTURED_API_VERSIONS.subarray(42))).toHaveLength(1);
  });

  const badSizes: [string, string, number | undefined, string][] = [
    ["a size prefix of 2 GiB", "80000000", undefined, "cannot decode frame size at byte 0: size 2147483648 is outside 10..16777216"],
    ["a negative size prefix", "ffffffff", undefined, "size 4294967295 is outside"],
    ["a size below the request header", "00000003 000000", undefined, "size 3 is outside"],
    ["a size above a configured maximum", "00000401", 1024, "size 1025 is outside 10..1024"],
  ];
  test.each(badSizes)("FrameSplitter.push() rejects %s at once", (_name, input, maxBytes, message) => {
    const splitter = new FrameSplitter({ minBytes: MIN_REQUEST_BYTES, maxBytes });
    expect(() => splitter.push(bytes(input))).toThrow(FluvioDecodeError);
    expect(() => new FrameSplitter({ minBytes: MIN_REQUEST_BYTES, maxBytes }).push(bytes(input))).toThrow(message);
  });

  test("FrameSplitter names the stream offset of a bad size after good frames", () => {
    const splitter = new FrameSplitter({ minBytes: MIN_RESPONSE_BYTES });
    expect(() => splitter.push(Buffer.concat([bytes("00000004 00000001"), bytes("00000000")]))).toThrow("frame size at byte 8");
  });

  test("decodeRequest() rejects a header cut short", () => {
    expect(() => decodeRequest(bytes('0012 0002 00000001 0009 "fluvio"'))).toThrow("cannot decode client id at byte 10");
  });
});

describe("ApiVersions", () => {
  test("the response encodes to its golden bytes and back", () => {
    const response = { errorCode: { code: "None" } as ErrorCode, apiKeys: [{ apiKey: 1003, minVersion: 15, maxVersion: 16 }], platformVersion: "0.11.11" };
    const golden = bytes('0000 00000001 03eb 000f 0010 0007 "0.11.11"');
    expect(hex(encoded((w) => encodeApiVersionsResponse(w, response)))).toBe(hex(golden));
    expect(decodedWhole(golden, decodeApiVersionsResponse)).toEqual(response);
  });

  test("a version 0 request has no body", () => {
    expect(encoded((w) => encodeApiVersionsRequest(w, { clientVersion: "x", clientOs: "y", clientArch: "z" }, 0))).toHaveLength(0);
    expect(decodeApiVersionsRequest(new Reader(new Uint8Array(0)), 0)).toEqual({ clientVersion: "", clientOs: "", clientArch: "" });
  });

  test("decodeApiVersionsResponse() rejects a platform version that is not semver", () => {
    expect(() => decodeApiVersionsResponse(new Reader(bytes('0000 00000000 0004 "v1.0"')))).toThrow("'v1.0' is not semver");
  });

  const negotiations: [string, number, number, number, number | null][] = [
    ["Watch 15..16 against the SC", SC_API_KEY.watch, 15, 16, 16],
    ["Create 9..16 against the SC", SC_API_KEY.create, 9, 16, 16],
    ["a future client 15..20 against the SC", SC_API_KEY.list, 15, 20, 19],
    ["an old client 0..5 against List 15..16", SC_API_KEY.list, 0, 5, null],
    ["a key the SC does not serve", 1005, 0, 16, null],
  ];
  test.each(negotiations)("negotiateVersion() picks the version for %s", (_name, key, min, max, expected) => {
    expect(negotiateVersion(SC_API_VERSIONS, key, min, max)).toBe(expected);
  });

  test("negotiateVersion() picks what the real client sends to an SPU", () => {
    expect(negotiateVersion(SPU_API_VERSIONS, SPU_API_KEY.produce, 0, 23)).toBe(23);
    expect(negotiateVersion(SPU_API_VERSIONS, SPU_API_KEY.fetchOffsets, 22, 23)).toBe(23);
    expect(negotiateVersion(SPU_API_VERSIONS, SPU_API_KEY.streamFetch, 22, 23)).toBe(23);
    expect(negotiateVersion(SPU_API_VERSIONS, SPU_API_KEY.updateOffsets, 0, 0)).toBe(0);
  });
});

describe("ErrorCode", () => {
  // Every tag of fluvio-protocol src/link/error_code.rs.
  const tags: [ErrorCode["code"], number][] = [
    ["UnknownServerError", -1], ["None", 0], ["OffsetOutOfRange", 1], ["Other", 2], ["NotLeaderForPartition", 6],
    ["RequestTimedOut", 7], ["MessageTooLarge", 10], ["PermissionDenied", 13], ["StorageError", 56],
    ["InvalidCreateRequest", 60], ["InvalidDeleteRequest", 61], ["OffsetEvicted", 71], ["SpuError", 1000],
    ["SpuRegistrationFailed", 1001], ["SpuOffline", 1002], ["SpuNotFound", 1003], ["SpuAlreadyExists", 1004],
    ["TopicError", 2000], ["TopicNotFound", 2001], ["TopicAlreadyExists", 2002], ["TopicPendingInitialization", 2003],
    ["TopicInvalidConfiguration", 2004], ["TopicNotProvisioned", 2005], ["TopicInvalidName", 2006], ["TopicDeleted", 2007],
    ["TopicInvalidReplicaType", 2008], ["PartitionPendingInitialization", 3000], ["PartitionNotLeader", 3001],
    ["FetchSessionNotFound", 3002], ["OffsetFlushRequestError", 3003], ["OffsetManagementDisabled", 3004],
    ["ManagedConnectorError", 5000], ["ManagedConnectorNotFound", 5001], ["ManagedConnectorAlreadyExists", 5002],
    ["SmartModuleError", 6000], ["SmartModuleNotFound", 6001], ["SmartModuleInvalid", 6002], ["SmartModuleInvalidExports", 6003],
    ["SmartModuleRuntimeError", 6004], ["SmartModuleChainInitError", 6005], ["SmartModuleInitError", 6006],
    ["SmartModuleLookBackError", 6007], ["SmartModuleMemoryLimitExceeded", 6008], ["TableFormatError", 7000],
    ["TableFormatNotFound", 7001], ["TableFormatAlreadyExists", 7002], ["DerivedStreamObjectError", 8000],
    ["DerivedStreamNotFound", 8001], ["DerivedStreamJoinFetchError", 8002], ["DerivedStreamInvalid", 8003],
    ["CompressionError", 9000], ["DeduplicationSmartModuleNotLoaded", 10000], ["DeduplicationSmartModuleNameInvalid", 10001],
    ["MirrorNotFound", 11001], ["MirrorAlreadyExists", 11002], ["MirrorProduceFromHome", 11003], ["MirrorDeleteFromRemote", 11004],
    ["MirrorInvalidType", 11005], ["SystemSpecDeletionAttempt", 12001], ["SystemSpecUpdatingAttempt", 12002],
  ];
  test.each(tags)("%s has tag %p", (code, tag) => {
    expect(errorCodeTag(code)).toBe(tag);
  });

  const withFields: [string, ErrorCode, string][] = [
    ["None", { code: "None" }, "0000"],
    ["UnknownServerError", { code: "UnknownServerError" }, "ffff"],
    ["TopicNotFound", { code: "TopicNotFound" }, "07d1"],
    ["Other", { code: "Other", message: "x" }, '0002 0001 "x"'],
    ["RequestTimedOut", { code: "RequestTimedOut", timeoutMs: 1, requestKind: "Produce" }, "0007 0000000000000001 00"],
    ["OffsetEvicted", { code: "OffsetEvicted", offset: 5, nextAvailable: 9 }, "0047 0000000000000005 0000000000000009"],
    ["OffsetFlushRequestError", { code: "OffsetFlushRequestError", message: "m" }, '0bbb 0001 "m"'],
    ["SmartModuleNotFound", { code: "SmartModuleNotFound", name: "sm" }, '1771 0002 "sm"'],
    ["SmartModuleInvalid", { code: "SmartModuleInvalid", error: "e", name: null }, '1772 0001 "e" 00'],
    ["SmartModuleInvalidExports", { code: "SmartModuleInvalidExports", error: "e", smartModuleKind: "map" }, '1773 0001 "e" 0003 "map"'],
    [
      "SmartModuleRuntimeError",
      { code: "SmartModuleRuntimeError", hint: "h", offset: 3, smartModuleKind: "Map", recordKey: bytes('"k"'), recordValue: bytes('"vv"') },
      '1774 0001 "h" 0000000000000003 01 01 02 "k" 04 "vv"',
    ],
    ["SmartModuleInitError", { code: "SmartModuleInitError", hint: "h" }, '1776 0001 "h"'],
    ["SmartModuleMemoryLimitExceeded", { code: "SmartModuleMemoryLimitExceeded", requested: 2, max: 1 }, "1778 0000000000000002 0000000000000001"],
    ["DerivedStreamNotFound", { code: "DerivedStreamNotFound", name: "d" }, '1f41 0001 "d"'],
    ["SystemSpecDeletionAttempt", { code: "SystemSpecDeletionAttempt", objectKind: "topic", name: "t" }, '2ee1 0005 "topic" 0001 "t"'],
  ];
  test.each(withFields)("%s encodes to its golden bytes and back", (_name, errorCode, golden) => {
    expect(hex(encoded((w) => encodeErrorCode(w, errorCode)))).toBe(hex(bytes(golden)));
    expect(decodedWhole(bytes(golden), decodeErrorCode)).toEqual(errorCode);
  });

  const fieldTags = new Set([2, 7, 71, 3003, 6001, 6002, 6003, 6004, 6005, 6006, 6007, 6008, 8001, 8003, 10001, 12001, 12002]);
  test.each(tags.filter(([, tag]) => !fieldTags.has(tag)))("%s, without fields, is its tag alone and round-trips", (code, tag) => {
    const errorCode = { code } as ErrorCode;
    const out = encoded((w) => encodeErrorCode(w, errorCode));
    expect(out).toHaveLength(2);
    expect(new Reader(out).i16()).toBe(tag);
    expect(decodedWhole(out, decodeErrorCode)).toEqual(errorCode);
  });

  test("decodeErrorCode() rejects an unknown tag", () => {
    expect(() => decodeErrorCode(new Reader(bytes("0003")))).toThrow(FluvioDecodeError);
    expect(() => decodeErrorCode(new Reader(bytes("0003")))).toThrow("unknown error code tag 3");
  });

  test("decodeErrorCode() rejects an unknown request kind", () => {
    expect(() => decodeErrorCode(new Reader(bytes("0007 0000000000000001 01")))).toThrow("unknown request kind 1");
  });
});
