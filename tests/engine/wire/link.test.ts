import { afterEach, describe, expect, test } from "bun:test";
import { encodeFrame, FrameReader, type Frame } from "../../../lib/engine/wire/frame.ts";
import { connectLink, listenLinks, type Link } from "../../../lib/engine/wire/link.ts";

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

  test("a link that keeps receiving never times out, while a silent one beside it times out alone, and not before its deadline", async () => {
    const timedOut: { name: string; atMs: number }[] = [];
    const silentTimedOut = Promise.withResolvers<void>();
    const started = performance.now();
    listeners.push(listenLinks({ host: "127.0.0.1", port: PORT + 3 }, (link) => {
      let name = "";
      link.setTimeout(1_500);
      link.on("data", (chunk) => (name ||= Buffer.from(chunk).toString("utf8", 0, 6)));
      link.on("timeout", () => {
        timedOut.push({ name, atMs: performance.now() - started });
        if (name === "silent") silentTimedOut.resolve();
        link.destroy();
      });
    }));
    const chatty = connectLink({ host: "127.0.0.1", port: PORT + 3 });
    chatty.write(Buffer.from("chatty"));
    const ticks = setInterval(() => chatty.write(Buffer.from("x")), 200);
    await Bun.sleep(500);
    const silent = connectLink({ host: "127.0.0.1", port: PORT + 3 });
    silent.write(Buffer.from("silent"));
    try {
      await silentTimedOut.promise;
      // The chatty link has by now outlived its deadline once; one more shows it is kept alive, not lucky.
      await Bun.sleep(1_500);
    } finally {
      clearInterval(ticks);
      chatty.destroy();
      silent.destroy();
    }
    expect(timedOut.map((entry) => entry.name)).toEqual(["silent"]);
    // Opened at 0.5 s with a 1.5 s deadline: never before 2 s.
    expect(timedOut[0]!.atMs).toBeGreaterThanOrEqual(1_950);
  });

  test("bytes that arrive before a link has a data handler are held, and its first handler gets them before any later bytes, in order", async () => {
    const accepted = Promise.withResolvers<Link>();
    listeners.push(listenLinks({ host: "127.0.0.1", port: PORT + 4 }, (link) => accepted.resolve(link)));
    const client = connectLink({ host: "127.0.0.1", port: PORT + 4 });
    for (let index = 0; index < 50; index++) client.write(encodeFrame({ type: "early", index }));
    const server = await accepted.promise;
    // As a server that loads the code that reads a connection after accepting it.
    await Bun.sleep(100);
    const frames = nextFrames(server, 100);
    for (let index = 50; index < 100; index++) client.write(encodeFrame({ type: "late", index }));
    expect((await frames).map((frame) => `${frame.header.type} ${frame.header.index}`)).toEqual(
      Array.from({ length: 100 }, (_, index) => `${index < 50 ? "early" : "late"} ${index}`),
    );
    client.destroy();
  });
});
