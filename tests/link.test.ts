import { afterEach, describe, expect, test } from "bun:test";
import { encodeFrame, FrameReader, type Frame } from "../lib/engine/wire/frame.ts";
import { connectLink, listenLinks, type Link } from "../lib/engine/wire/link.ts";

// Port 11950-11999: this file's block (access tests use 11000-11900).
const PORT = 11_950;
const listeners: { stop(closeActive?: boolean): void }[] = [];
afterEach(() => {
  for (const listener of listeners.splice(0)) listener.stop(true);
});

function nextFrames(link: Link, count: number): Promise<Frame[]> {
  const reader = new FrameReader();
  const frames: Frame[] = [];
  return new Promise((resolve) => {
    link.on("data", (chunk) => {
      frames.push(...reader.push(chunk));
      if (frames.length >= count) resolve(frames);
    });
  });
}

describe("Link", () => {
  test("a link carries thousands of frames of up to 200 KB intact and in order, in both directions", async () => {
    // An echo server: every frame comes back as it was sent.
    listeners.push(listenLinks({ host: "127.0.0.1", port: PORT }, (link) => {
      const reader = new FrameReader();
      link.on("data", (chunk) => {
        for (const frame of reader.push(chunk)) link.write(encodeFrame(frame.header, frame.body));
      });
    }));
    const sizes = Array.from({ length: 2_000 }, (_, index) => (index * 7919) % 200_000);
    const client = connectLink({ host: "127.0.0.1", port: PORT });
    const echoed = nextFrames(client, sizes.length);
    sizes.forEach((size, index) => client.write(encodeFrame({ type: "blob", index }, new Uint8Array(size).fill(index % 251))));
    const frames = await echoed;
    expect(frames.map((frame) => frame.header.index)).toEqual(sizes.map((_, index) => index));
    for (const [index, frame] of frames.entries()) {
      expect(frame.body.length).toBe(sizes[index]!);
      if (frame.body.length > 0) expect([frame.body[0], frame.body.at(-1)]).toEqual([index % 251, index % 251]);
    }
    client.destroy();
  });

  test("end() sends what is waiting before it closes, and the peer sees the close", async () => {
    const closed = Promise.withResolvers<Frame[]>();
    listeners.push(listenLinks({ host: "127.0.0.1", port: PORT + 1 }, (link) => {
      const reader = new FrameReader();
      const frames: Frame[] = [];
      link.on("data", (chunk) => frames.push(...reader.push(chunk)));
      link.on("close", () => closed.resolve(frames));
    }));
    const client = connectLink({ host: "127.0.0.1", port: PORT + 1 });
    client.end(encodeFrame({ type: "bye" }, new Uint8Array(1_000_000)));
    const frames = await closed.promise;
    expect(frames.map((frame) => [frame.header.type, frame.body.length])).toEqual([["bye", 1_000_000]]);
  });

  test("connectLink() to a port nobody listens on reports an error, then closes", async () => {
    const events: string[] = [];
    const link = connectLink({ host: "127.0.0.1", port: PORT + 2 });
    link.on("error", () => events.push("error"));
    await new Promise<void>((resolve) => link.on("close", () => resolve()));
    expect(events).toEqual(["error"]);
    expect(link.destroyed).toBe(true);
  });
});
