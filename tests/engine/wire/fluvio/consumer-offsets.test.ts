/**
 * The records of the consumer-offset partition as Fluvio's SPU writes them (fluvio-kv-storage
 * src/log.rs `Entry`, fluvio-spu src/kv/consumer.rs): the bytes follow its derived encoders.
 */
import { describe, expect, test } from "bun:test";
import { decodeConsumerOffsetEntry, encodeConsumerOffsetEntry } from "../../../../lib/engine/wire/fluvio/consumer-offsets.ts";

describe("consumer offset entries", () => {
  test("encodeConsumerOffsetEntry() writes Fluvio's Entry: a u8 tag, then the key and value each as a u32-length byte vector", () => {
    const key = { replica: { topic: "t", partition: 2 }, consumerId: "c" };
    // key: topic "t" (u16 1), partition u32 2, consumer id "c" (u16 1): 10 bytes.
    const keyHex = "0000000a" + "000174" + "00000002" + "000163";
    expect(Buffer.from(encodeConsumerOffsetEntry({ type: "updated", key, value: { offset: 5, modifiedTime: 7 } })).toString("hex")).toBe(
      "00" + keyHex + "00000010" + "0000000000000005" + "0000000000000007",
    );
    expect(Buffer.from(encodeConsumerOffsetEntry({ type: "deleted", key })).toString("hex")).toBe("01" + keyHex);
    expect(Buffer.from(encodeConsumerOffsetEntry({ type: "checkpoint" })).toString("hex")).toBe("02");
  });

  test.each([
    ["an unknown tag", "03"],
    ["a key cut short", "010000000a000174"],
    ["bytes after the entry", "0200"],
    ["a key with bytes left over", "01" + "0000000b" + "000174" + "00000002" + "000163" + "00"],
  ])("decodeConsumerOffsetEntry() refuses %s", (_what, hex) => {
    expect(() => decodeConsumerOffsetEntry(Buffer.from(hex, "hex"))).toThrow();
  });
});

