import { Redis } from "ioredis";
import { createPubSub, type PubSub } from "../../src/core/pubsub";
import { createLogger } from "../../src/core/logger";
import { TEST_REDIS_URL, testRedisPrefix } from "../helpers/env";
import { eventually } from "../helpers/eventually";

/**
 * The bus between instances, on real Redis: an instance's own listeners get its payloads at
 * publish, exactly once (Redis's echo of them is dropped), other instances through Redis, and
 * all of them the same plain JSON.
 */
const logger = createLogger("silent");
const prefix = `${testRedisPrefix()}bus:`;
let a: PubSub;
let b: PubSub;

beforeAll(async () => {
  [a, b] = await Promise.all([
    createPubSub(TEST_REDIS_URL, prefix, logger),
    createPubSub(TEST_REDIS_URL, prefix, logger),
  ]);
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

function collect(bus: PubSub, topic: string) {
  const received: unknown[] = [];
  return bus.subscribe(topic, (payload) => received.push(payload)).then(() => received);
}

test("the publishing instance's listeners get each payload once, the others' once too", async () => {
  const topic = "conversation:c1:message-added";
  const [onA, alsoOnA, onB] = await Promise.all([
    collect(a, topic),
    collect(a, topic),
    collect(b, topic),
  ]);
  const at = new Date("2026-12-04T10:00:00.000Z");
  for (const seq of [1, 2, 3]) await a.publish(topic, { seq, at });
  // One more from the other side: after it has arrived, anything Redis echoed back has too.
  await b.publish(topic, { seq: 4, at });
  await eventually(() => onA.length >= 4, "A's listeners");
  await eventually(() => onB.length >= 4, "B's listener");
  // Dates arrive as ISO strings everywhere, as Redis delivers them.
  // Redis's echoes of A's three reached A's subscriber before B's payload did: none was kept.
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(onA).toEqual([1, 2, 3, 4].map((seq) => ({ seq, at: at.toISOString() })));
  expect(alsoOnA).toEqual(onA);
  expect(onA[0]).toBe(alsoOnA[0]);
  // Each publisher's payloads keep their order; B's own (4) reached B's listener at once, so it
  // may come before A's last one still on its way through Redis.
  const onBSeqs = onB.map((p) => (p as { seq: number }).seq);
  expect(onBSeqs.filter((seq) => seq !== 4)).toEqual([1, 2, 3]);
  expect([...onBSeqs].sort()).toEqual([1, 2, 3, 4]);
  expect(onB[0]).toMatchObject({ seq: 1, at: at.toISOString() });
});

test("an empty payload, on a topic nobody listens to on the publisher", async () => {
  const onB = await collect(b, "user:u1:blocks");
  await a.publish("user:u1:blocks", {});
  await eventually(() => onB.length >= 1, "B's listener");
  expect(onB).toEqual([{}]);
});

test("a payload published through Redis by another program still arrives", async () => {
  const topic = "user:u2:presence";
  const onA = await collect(a, topic);
  const redis = new Redis(TEST_REDIS_URL);
  try {
    await redis.publish(prefix + topic, JSON.stringify({ userId: "u2", status: "ONLINE" }));
  } finally {
    redis.disconnect();
  }
  await eventually(() => onA.length >= 1, "A's listener");
  expect(onA).toEqual([{ userId: "u2", status: "ONLINE" }]);
});
