import { describe, expect, test } from "bun:test";
import { SC_API_KEY } from "../../../../lib/engine/wire/fluvio/api-keys.ts";
import { FluvioDecodeError, FluvioEncodeError } from "../../../../lib/engine/wire/fluvio/errors.ts";
import { decodeRequest, encodeRequest } from "../../../../lib/engine/wire/fluvio/framing.ts";
import {
  METADATA_CODECS,
  PARTITION_SIZE_NOT_SUPPORTED,
  type CustomSpuMetadata,
  type MirrorConfig,
  type PartitionMetadata,
  type SpuMetadata,
  type TopicMetadata,
} from "../../../../lib/engine/wire/fluvio/metadata.ts";
import {
  decodeCreateRequest,
  decodeDeleteRequest,
  decodeListRequest,
  decodeListResponse,
  decodeStatus,
  decodeWatchRequest,
  decodeWatchResponse,
  encodeCreateRequest,
  encodeDeleteRequest,
  encodeEmptyListResponse,
  encodeEmptyWatchResponse,
  encodeListRequest,
  encodeListResponse,
  encodeStatus,
  encodeWatchRequest,
  encodeWatchResponse,
  type CreateRequest,
  type DeleteRequest,
  type ListRequest,
  type ListResponse,
  type Status,
  type WatchRequest,
  type WatchResponse,
} from "../../../../lib/engine/wire/fluvio/object-api.ts";
import { Reader } from "../../../../lib/engine/wire/fluvio/reader.ts";
import type { Writer } from "../../../../lib/engine/wire/fluvio/writer.ts";
import { bytes, decodedWhole, encoded, hex } from "../../../fluvio-bytes.ts";

/** The version @fluvio/client 0.14.9 (Fluvio 0.11.11) sends, at which these goldens were captured. */
const V = 16;

const spu: SpuMetadata = {
  name: "5001",
  spec: {
    id: 5001,
    spuType: "Managed",
    publicEndpoint: { port: 9010, ingress: [{ hostname: null, ip: "127.0.0.1" }], encryption: "PLAINTEXT" },
    privateEndpoint: { port: 9011, host: "127.0.0.1", encryption: "PLAINTEXT" },
    rack: null,
    publicEndpointLocal: null,
  },
  status: { resolution: "Online" },
};
const SPU_BYTES = '0004 "5001" | 00001389 00 | 2332 00000001 00 01 0009 "127.0.0.1" 00 | 2333 0009 "127.0.0.1" 00 | 00 | 00 | 00';

const topic: TopicMetadata = {
  name: "t1",
  spec: {
    replicas: { type: "Computed", partitions: 3, replicationFactor: 3, ignoreRackAssignment: false },
    cleanupPolicy: null,
    storage: null,
    compressionType: "Any",
    deduplication: null,
    system: false,
  },
  status: { resolution: "Provisioned", replicaMap: new Map([[0, [5001, 5002]]]), mirrorMap: new Map(), reason: "" },
};
const TOPIC_BYTES = '0002 "t1" | 01 00000003 00000003 00 | 00 | 00 | 04 | 00 | 00 | 04 | 0001 00000000 00000002 00001389 0000138a | 0000 | 0000';

const partition: PartitionMetadata = {
  name: "t1-0",
  spec: {
    leader: 5001,
    replicas: [5001, 5002],
    cleanupPolicy: null,
    storage: null,
    compressionType: "Any",
    deduplication: null,
    system: false,
    mirror: null,
  },
  status: {
    resolution: "Online",
    leader: { spu: 5001, hw: 10, leo: 10 },
    lsr: 2,
    replicas: [{ spu: 5002, hw: 10, leo: 10 }],
    size: 100,
    isBeingDeleted: false,
    baseOffset: 0,
  },
};
const PARTITION_BYTES =
  '0004 "t1-0" | 00001389 00000002 00001389 0000138a | 00 00 | 04 | 00 | 00 | 00 | ' +
  "01 | 00001389 000000000000000a 000000000000000a | 00000002 | 00000001 0000138a 000000000000000a 000000000000000a | " +
  "0000000000000064 | 00 | 0000000000000000";

const customSpu: CustomSpuMetadata = {
  name: "custom-5001",
  spec: {
    id: 5001,
    publicEndpoint: { port: 9010, ingress: [{ hostname: "localhost", ip: null }], encryption: "PLAINTEXT" },
    privateEndpoint: { port: 9011, host: "localhost", encryption: "SSL" },
    rack: "r1",
    publicEndpointLocal: { port: 9012, host: "127.0.0.1", encryption: "PLAINTEXT" },
  },
  status: { resolution: "Init" },
};
const CUSTOM_SPU_BYTES =
  '000b "custom-5001" | 00001389 | 2332 00000001 01 0009 "localhost" 00 00 | 2333 0009 "localhost" 01 | 01 0002 "r1" | ' +
  '01 2334 0009 "127.0.0.1" 00 | 02';

describe("object metadata at version 16", () => {
  const cases: [string, keyof typeof METADATA_CODECS, unknown, string][] = [
    ["SPU", "SPU", spu, SPU_BYTES],
    ["Topic", "Topic", topic, TOPIC_BYTES],
    ["Partition", "Partition", partition, PARTITION_BYTES],
    ["CustomSpu", "CustomSpu", customSpu, CUSTOM_SPU_BYTES],
  ];
  test.each(cases)("%s metadata encodes to its golden bytes and back", (_name, type, metadata, golden) => {
    const codec = METADATA_CODECS[type] as (typeof METADATA_CODECS)["Topic"];
    expect(hex(encoded((w) => codec.encode(w, metadata as TopicMetadata, V)))).toBe(hex(bytes(golden)));
    expect(decodedWhole(bytes(golden), (r) => codec.decode(r, V))).toEqual(metadata as TopicMetadata);
  });

  test("an assigned topic with a home mirror and every optional field encodes to its golden bytes and back", () => {
    const assigned: TopicMetadata = {
      name: "m",
      spec: {
        replicas: { type: "Assigned", maps: [{ id: 0, replicas: [5001], mirror: { type: "Home", remoteCluster: "r", remoteReplica: "p" } }] },
        cleanupPolicy: { type: "Segment", timeInSeconds: 3600 },
        storage: { segmentSize: 1024, maxPartitionSize: null },
        compressionType: "Zstd",
        deduplication: { bounds: { count: 5, age: { secs: 1, nanos: 2 } }, filter: { transform: { uses: "dedup", with: new Map([["k", "v"]]) } } },
        system: true,
      },
      status: {
        resolution: "Pending",
        replicaMap: new Map(),
        mirrorMap: new Map([[0, { type: "Remote", homeCluster: "h", homeSpuKey: "k", homeSpuId: 1, homeSpuEndpoint: "e" }]]),
        reason: "why",
      },
    };
    const golden = bytes(
      '0001 "m" | 00 00000001 00000000 00000001 00001389 01 01 0001 "r" 0001 "p" | 01 00 00000e10 | 01 01 00000400 00 | 05 | ' +
        '01 0000000000000005 01 0000000000000001 00000002 0005 "dedup" 0001 0001 "k" 0001 "v" | 01 | ' +
        '01 | 0000 | 0001 00000000 00 0001 "h" 0001 "k" 00000001 0001 "e" | 0003 "why"',
    );
    expect(hex(encoded((w) => METADATA_CODECS.Topic.encode(w, assigned, V)))).toBe(hex(golden));
    expect(decodedWhole(golden, (r) => METADATA_CODECS.Topic.decode(r, V))).toEqual(assigned);
  });

  test("a mirror topic round-trips (remote and home)", () => {
    const mirrors: MirrorConfig[] = [
      { type: "Remote", homeCluster: "home", homeSpus: [{ id: 1, key: "k", endpoint: "e:1" }] },
      { type: "Home", partitions: [{ remoteCluster: "edge", remoteReplica: "t-0" }] },
    ];
    for (const mirror of mirrors) {
      const value: TopicMetadata = { ...topic, spec: { ...topic.spec, replicas: { type: "Mirror", mirror } } };
      expect(decodedWhole(encoded((w) => METADATA_CODECS.Topic.encode(w, value, V)), (r) => METADATA_CODECS.Topic.decode(r, V))).toEqual(value);
    }
  });
});

describe("object metadata at lower versions", () => {
  // Each golden is the version-16 encoding with the fields that version lacks left out.
  const goldens: [string, keyof typeof METADATA_CODECS, number, unknown, string][] = [
    ["SPU without public_endpoint_local", "SPU", 0, spu, SPU_BYTES.slice(0, SPU_BYTES.lastIndexOf("| 00 | 00")) + "| 00"],
    ["Topic at 2: no cleanup, storage, compression, dedup, system, mirror map", "Topic", 2, topic, '0002 "t1" | 01 00000003 00000003 00 | 04 | 0001 00000000 00000002 00001389 0000138a | 0000'],
    ["Topic at 6: compression, no dedup, system, mirror map", "Topic", 6, topic, '0002 "t1" | 01 00000003 00000003 00 | 00 | 00 | 04 | 04 | 0001 00000000 00000002 00001389 0000138a | 0000'],
    [
      "Partition at 4: no compression, dedup, system, mirror, size, base offset",
      "Partition",
      4,
      partition,
      '0004 "t1-0" | 00001389 00000002 00001389 0000138a | 00 00 | 01 | 00001389 000000000000000a 000000000000000a | 00000002 | 00000001 0000138a 000000000000000a 000000000000000a | 00',
    ],
    [
      "Partition at 15: no base offset",
      "Partition",
      15,
      partition,
      '0004 "t1-0" | 00001389 00000002 00001389 0000138a | 00 00 | 04 | 00 | 00 | 00 | 01 | 00001389 000000000000000a 000000000000000a | 00000002 | 00000001 0000138a 000000000000000a 000000000000000a | 0000000000000064 | 00',
    ],
  ];
  test.each(goldens)("%s", (_name, type, version, metadata, golden) => {
    const codec = METADATA_CODECS[type] as (typeof METADATA_CODECS)["Topic"];
    expect(hex(encoded((w) => codec.encode(w, metadata as TopicMetadata, version)))).toBe(hex(bytes(golden)));
  });

  test("decoding a Partition at version 4 gives Rust's defaults for the fields it lacks", () => {
    const golden = bytes(goldens[3]![4]);
    expect(decodedWhole(golden, (r) => METADATA_CODECS.Partition.decode(r, 4))).toEqual({
      ...partition,
      status: { ...partition.status, size: PARTITION_SIZE_NOT_SUPPORTED, baseOffset: 0 },
    });
  });

  test.each([0, 1, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16])("every object type round-trips at version %p", (version) => {
    for (const [type, metadata] of [["SPU", spu], ["Topic", topic], ["Partition", partition], ["CustomSpu", customSpu]] as const) {
      const codec = METADATA_CODECS[type] as (typeof METADATA_CODECS)["Topic"];
      const decoded = decodedWhole(encoded((w) => codec.encode(w, metadata as TopicMetadata, version)), (r) => codec.decode(r, version));
      const expected = structuredClone(metadata) as PartitionMetadata;
      if (type === "Partition" && version < 5) expected.status.size = PARTITION_SIZE_NOT_SUPPORTED;
      expect(decoded as unknown).toEqual(expected);
    }
  });
});

describe("object API requests and responses", () => {
  test("the real client's Watch request for SPUs decodes and re-encodes byte for byte", () => {
    const captured = bytes('0003 "SPU" | 00000009 | 0000000000000000 00');
    const request = decodedWhole(captured, (r) => decodeWatchRequest(r, V));
    expect(request).toEqual({ type: "SPU", epoch: 0, summary: false });
    expect(hex(encoded((w) => encodeWatchRequest(w, request, V)))).toBe(hex(captured));
  });

  test("a whole Watch request frame as the real client sends it", () => {
    const frame = encodeRequest({ apiKey: SC_API_KEY.watch, apiVersion: V, correlationId: 2, clientId: "dummy" }, (w) =>
      encodeWatchRequest(w, { type: "Partition", epoch: 0, summary: false }, V),
    );
    expect(hex(frame)).toBe(hex(bytes('00000027 03ec 0010 00000002 0005 "dummy" 0009 "Partition" 00000009 0000000000000000 00')));
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(decodeWatchRequest(body, header.apiVersion)).toEqual({ type: "Partition", epoch: 0, summary: false });
  });

  const requests: Case[] = [
    ...listCases(),
    ...createCases(),
    ...deleteCases(),
  ];
  test.each(requests)("%s encodes to its golden bytes and back", (_name, _version, write, read, value, golden) => {
    expect(hex(encoded(write))).toBe(hex(bytes(golden)));
    expect(decodedWhole(bytes(golden), read)).toEqual(value);
  });

  test("a Watch response with a snapshot of SPUs encodes to its golden bytes and back", () => {
    const response: WatchResponse = { type: "SPU", epoch: 1, changes: [], all: [spu] };
    const golden = bytes(`0003 "SPU" 00000040 | 0000000000000001 | 00000000 | 00000001 ${SPU_BYTES}`);
    expect(hex(encoded((w) => encodeWatchResponse(w, response, V)))).toBe(hex(golden));
    expect(decodedWhole(golden, (r) => decodeWatchResponse(r, V))).toEqual(response);
  });

  test("a Watch response with changes round-trips", () => {
    const response: WatchResponse = {
      type: "Partition",
      epoch: 7,
      changes: [{ msgType: "UPDATE", metadata: partition }, { msgType: "DELETE", metadata: { ...partition, name: "t1-1" } }],
      all: [],
    };
    const golden = encoded((w) => encodeWatchResponse(w, response, V));
    expect(hex(golden.subarray(0, 28))).toBe(hex(bytes('0009 "Partition" 000000ce 0000000000000007 00000002 00')));
    expect(decodedWhole(golden, (r) => decodeWatchResponse(r, V))).toEqual(response);
  });

  test("a List response of topics encodes to its golden bytes and back", () => {
    const response: ListResponse = { type: "Topic", items: [topic] };
    const golden = bytes(`0005 "Topic" 0000002e 00000001 ${TOPIC_BYTES}`);
    expect(hex(encoded((w) => encodeListResponse(w, response, V)))).toBe(hex(golden));
    expect(decodedWhole(golden, (r) => decodeListResponse(r, V))).toEqual(response);
  });

  test("List and Watch responses of every type round-trip", () => {
    const all: ListResponse[] = [
      { type: "SPU", items: [spu] },
      { type: "Topic", items: [topic] },
      { type: "Partition", items: [partition, partition] },
      { type: "CustomSpu", items: [customSpu] },
    ];
    for (const response of all) {
      expect(decodedWhole(encoded((w) => encodeListResponse(w, response, V)), (r) => decodeListResponse(r, V))).toEqual(response);
      const watch = { type: response.type, epoch: 3, changes: [], all: response.items } as WatchResponse;
      expect(decodedWhole(encoded((w) => encodeWatchResponse(w, watch, V)), (r) => decodeWatchResponse(r, V))).toEqual(watch);
    }
  });

  test("a classic (version 10) List response has no length", () => {
    const response: ListResponse = { type: "SPU", items: [] };
    expect(hex(encoded((w) => encodeListResponse(w, response, 10)))).toBe(hex(bytes('0003 "SPU" 00000000')));
    expect(decodedWhole(bytes('0003 "SPU" 00000000'), (r) => decodeListResponse(r, 10))).toEqual(response);
  });

  test("empty answers for types we do not serve", () => {
    expect(hex(encoded((w) => encodeEmptyListResponse(w, "SmartModule", V)))).toBe(hex(bytes('000b "SmartModule" 00000004 00000000')));
    expect(hex(encoded((w) => encodeEmptyWatchResponse(w, "SpuGroup", 2, V)))).toBe(
      hex(bytes('0008 "SpuGroup" 00000010 0000000000000002 00000000 00000000')),
    );
  });

  test("Status encodes to its golden bytes and back", () => {
    const status: Status = { name: "t1", errorCode: { code: "TopicAlreadyExists" }, errorMessage: "exists" };
    const golden = bytes('0002 "t1" 07d2 01 0006 "exists"');
    expect(hex(encoded((w) => encodeStatus(w, status)))).toBe(hex(golden));
    expect(decodedWhole(golden, decodeStatus)).toEqual(status);
    expect(decodedWhole(bytes('0002 "t1" 0000 00'), decodeStatus)).toEqual({ name: "t1", errorCode: { code: "None" }, errorMessage: null });
  });

  test("a create of a type we cannot decode comes back as unsupported with its common fields", () => {
    const v16 = bytes('000b "SmartModule" 0000000c 0002 "sm" 00 01 000003e8 ffff');
    expect(decodeCreateRequest(new Reader(v16), V)).toEqual({ type: "unsupported", label: "SmartModule", common: { name: "sm", dryRun: false, timeout: 1000 } });
    const classic = bytes('0002 "sm" 00 00 04 ffff');
    expect(decodeCreateRequest(new Reader(classic), 9)).toEqual({ type: "unsupported", label: "SmartModule", common: { name: "sm", dryRun: false, timeout: null } });
  });

  const malformed: [string, string, (r: Reader) => unknown, string][] = [
    ["a type buffer longer than the body", '0003 "SPU" 00000010 0000000000000000 00', (r) => decodeWatchRequest(r, V), "needs 16 byte(s), 9 remain"],
    ["a List response of an unsupported type", '000b "SmartModule" 00000004 00000000', (r) => decodeListResponse(r, V), "unsupported object type 'SmartModule'"],
    ["a CustomSpu key that is neither Name nor Id", '0009 "CustomSpu" 00000006 0003 "Foo" 00', (r) => decodeDeleteRequest(r, V), "neither 'Name' nor 'Id'"],
    ["an SPU type tag of 2", `0003 "SPU" 0000001b 0000000000000001 00000000 00000001 0004 "5001" 00001389 02`, (r) => decodeWatchResponse(r, V), "unknown spu type tag 2"],
    ["a list of 2^31 names", '0005 "Topic" 00000006 80000000 0000', (r) => decodeListRequest(r, V), "count 2147483648 needs more"],
  ];
  test.each(malformed)("rejects %s with FluvioDecodeError", (_name, input, read, message) => {
    expect(() => read(new Reader(bytes(input)))).toThrow(FluvioDecodeError);
    expect(() => read(new Reader(bytes(input)))).toThrow(message);
  });

  test("encodeDeleteRequest() refuses a key of the wrong kind for the type", () => {
    expect(() => encoded((w) => encodeDeleteRequest(w, { type: "CustomSpu", key: "c1", force: false }, V))).toThrow(FluvioEncodeError);
    expect(() => encoded((w) => encodeDeleteRequest(w, { type: "Topic", key: { id: 1 }, force: false }, V))).toThrow(FluvioEncodeError);
  });
});

type Case = [string, number, (w: Writer) => void, (r: Reader) => unknown, unknown, string];

function listCases(): Case[] {
  const request = (version: number): ListRequest => ({ type: "Topic", nameFilters: ["test"], summary: version >= 10, system: version >= 13 });
  const row = (version: number, golden: string): Case => [
    `ListRequest at version ${version}`,
    version,
    (w) => encodeListRequest(w, request(version), version),
    (r) => decodeListRequest(r, version),
    request(version),
    golden,
  ];
  return [
    row(16, '0005 "Topic" 0000000c 00000001 0004 "test" 01 01'),
    row(11, '0005 "Topic" 0000000b 00000001 0004 "test" 01'),
    row(10, '0005 "Topic" 00000001 0004 "test" 01'),
    row(9, '0005 "Topic" 00000001 0004 "test"'),
  ];
}

function createCases(): Case[] {
  const topicRequest: CreateRequest = {
    type: "Topic",
    common: { name: "t1", dryRun: false, timeout: null },
    spec: { ...topic.spec, replicas: { type: "Computed", partitions: 1, replicationFactor: 1, ignoreRackAssignment: false } },
  };
  const customRequest: CreateRequest = { type: "CustomSpu", common: { name: "custom-5001", dryRun: true, timeout: 5000 }, spec: customSpu.spec };
  const customSpec = CUSTOM_SPU_BYTES.slice(CUSTOM_SPU_BYTES.indexOf("|") + 1, CUSTOM_SPU_BYTES.lastIndexOf("|"));
  return [
    [
      "CreateRequest of a topic at version 16",
      16,
      (w) => encodeCreateRequest(w, topicRequest, 16),
      (r) => decodeCreateRequest(r, 16),
      topicRequest,
      '0005 "Topic" 00000015 | 0002 "t1" 00 00 | 01 00000001 00000001 00 | 00 00 04 00 00',
    ],
    [
      "CreateRequest of a topic at classic version 9",
      9,
      (w) => encodeCreateRequest(w, topicRequest, 9),
      (r) => decodeCreateRequest(r, 9),
      topicRequest,
      '0002 "t1" 00 00 | 00 | 01 00000001 00000001 00 | 00 00 04',
    ],
    [
      "CreateRequest of a CustomSpu at version 16",
      16,
      (w) => encodeCreateRequest(w, customRequest, 16),
      (r) => decodeCreateRequest(r, 16),
      customRequest,
      `0009 "CustomSpu" 0000004d | 000b "custom-5001" 01 01 00001388 | ${customSpec}`,
    ],
  ];
}

function deleteCases(): Case[] {
  const row = (name: string, version: number, request: DeleteRequest, golden: string): Case => [
    name,
    version,
    (w) => encodeDeleteRequest(w, request, version),
    (r) => decodeDeleteRequest(r, version),
    request,
    golden,
  ];
  return [
    row("DeleteRequest of a topic at version 16", 16, { type: "Topic", key: "t1", force: true }, '0005 "Topic" 00000005 0002 "t1" 01'),
    row("DeleteRequest of a CustomSpu by id", 16, { type: "CustomSpu", key: { id: 5001 }, force: false }, '0009 "CustomSpu" 00000009 0002 "Id" 00001389 00'),
    row("DeleteRequest of a CustomSpu by name", 16, { type: "CustomSpu", key: { name: "c1" }, force: false }, '0009 "CustomSpu" 0000000b 0004 "Name" 0002 "c1" 00'),
    row("DeleteRequest of a topic at classic version 1", 1, { type: "Topic", key: "t1", force: false }, '0005 "Topic" 0002 "t1"'),
  ];
}

test("WatchRequest round-trips below version 10 without summary", () => {
  const request: WatchRequest = { type: "Topic", epoch: 42, summary: false };
  expect(hex(encoded((w) => encodeWatchRequest(w, request, 9)))).toBe(hex(bytes('0005 "Topic" 000000000000002a')));
  expect(decodedWhole(bytes('0005 "Topic" 000000000000002a'), (r) => decodeWatchRequest(r, 9))).toEqual(request);
});
