/**
 * The real Fluvio client is installed and loads: the native module's objects have every method
 * tests/fluvio-client.ts types, so a test that uses one fails on our cluster, not on a missing
 * binding.
 */
import { expect, test } from "bun:test";
import { loadFluvioClient } from "./fluvio-client.ts";

const TYPED_METHODS: Record<string, string[]> = {
  FluvioJS: ["admin", "topicProducer", "partitionConsumer"],
  FluvioAdminJS: ["createTopic", "deleteTopic", "listTopic", "listPartitions", "listSpu"],
  TopicProducerJS: ["send", "sendAll", "flush"],
  PartitionConsumerJS: ["stream", "createStream"],
  PartitionConsumerIterator: ["next"],
  RecordJS: ["hasKey", "key", "value", "keyString", "valueString"],
};

test("loadFluvioClient() returns the native module with every method the tests use", () => {
  const native = loadFluvioClient() as unknown as Record<string, any>;
  expect(typeof native.connect).toBe("function");
  for (const [className, methods] of Object.entries(TYPED_METHODS)) {
    const prototype = native[className]?.prototype;
    expect({ className, methods: methods.filter((method) => typeof prototype?.[method] !== "function") }).toEqual({
      className,
      methods: [],
    });
  }
});

test("loadFluvioClient() loads the module once", () => {
  expect(loadFluvioClient()).toBe(loadFluvioClient());
});

test("connect() rejects when nothing listens on the address", async () => {
  // NOTE: run under nsrun, 127.0.0.1:9 is a closed port in a namespace of our own.
  await expect(loadFluvioClient().connect("127.0.0.1:9")).rejects.toThrow();
});
