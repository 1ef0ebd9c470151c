import { describe, expect, test } from "bun:test";
import { encodeFrame, encodeFrameHead, FrameReader } from "../../../lib/engine/wire/frame.ts";

describe("FrameReader", () => {
  const frames = [
    encodeFrame({ type: "hello", spuId: 5001 }),
    encodeFrame({ type: "batch", count: 2 }, new Uint8Array([1, 2, 3, 4, 5])),
    encodeFrame({ type: "accepted" }),
  ];
  const stream = Buffer.concat(frames);

  test.each([1, 2, 3, 7, 8, 13, stream.length])("FrameReader.push() reassembles frames from chunks of %p bytes", (size) => {
    const reader = new FrameReader();
    const received = [];
    for (let start = 0; start < stream.length; start += size) received.push(...reader.push(stream.subarray(start, start + size)));
    expect(received.map((frame) => frame.header)).toEqual([
      { type: "hello", spuId: 5001 },
      { type: "batch", count: 2 },
      { type: "accepted" },
    ]);
    expect([...received[1]!.body]).toEqual([1, 2, 3, 4, 5]);
    expect(received[0]!.body.length).toBe(0);
  });

  test("encodeFrameHead() then the body is the frame encodeFrame() makes", () => {
    const body = new Uint8Array([9, 8, 7]);
    const head = encodeFrameHead({ type: "records", offset: 3 }, body.length);
    expect([...head, ...body]).toEqual([...encodeFrame({ type: "records", offset: 3 }, body)]);
  });

  test("FrameReader.push() rejects a stream that is not made of frames", () => {
    expect(() => new FrameReader().push(Buffer.from("GET / HTTP/1.1\r\n\r\n"))).toThrow("malformed frame");
  });
});
