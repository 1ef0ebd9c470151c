/**
 * A Fluvio app on a cluster this tool made: Fluvio's own client (the native module of the npm
 * package @fluvio/client, which is Fluvio's Rust client) finds the cluster through the profile
 * `cluster create` wrote, creates a topic, produces keyed records and reads them back.
 *
 *   bun cluster.ts create --spus 3
 *   bun examples/fluvio-app.ts
 *
 * The package's TypeScript wrapper is built by its postinstall, which fails on type errors, so
 * the app loads the native module itself (installed as in this repository's package.json).
 */
import { createRequire } from "node:module";

const fluvio = createRequire(import.meta.url)(`@fluvio/client/dist/${process.platform}/index.node`);
const TOPIC = "greetings";

// No address: the current profile in ~/.fluvio/config (or $FLV_PROFILE_PATH).
const client = await fluvio.connect();
const admin = await client.admin();
const topics = JSON.parse(new TextDecoder().decode(await admin.listTopic())) as { name: string }[];
if (!topics.some((topic) => topic.name === TOPIC)) await admin.createTopic(TOPIC, { partitions: 1, replicationFactor: 3 });

const producer = await client.topicProducer(TOPIC);
await producer.sendAll([
  ["en", "hello"],
  ["fr", "bonjour"],
  ["de", "hallo"],
]);
await producer.flush();

const consumer = await client.partitionConsumer(TOPIC, 0);
const stream = await consumer.createStream({ index: 0, from: "beginning" });
for (let read = 0; read < 3; read++) {
  const { value } = await stream.next();
  console.log(`${value.keyString()}: ${value.valueString()}`);
}
process.exit(0);
