import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { createPresenceStore } from "../../../src/modules/presence/presence.store";
import { TEST_REDIS_URL, testRedisPrefix } from "../../helpers/env";

/** The Redis registry itself: what a heartbeat renews, for more users than one command carries. */
describe("Presence store (Redis)", () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  const prefix = `${testRedisPrefix()}${randomUUID().slice(0, 8)}:`;
  const store = createPresenceStore(redis, prefix);

  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  it("should renew every user of the instance, in batches, until the new deadline", async () => {
    const now = Date.now();
    const users = Array.from({ length: 2_500 }, (_, i) => `heartbeat-${i}`);
    await store.heartbeat("i1", users, now + 10_000);
    expect((await store.online(users, now)).size).toBe(users.length);
    expect((await store.online(users, now + 20_000)).size).toBe(0);

    await store.heartbeat("i1", users, now + 30_000);
    expect((await store.online(users, now + 20_000)).size).toBe(users.length);
    // The instance's own deadline moved too: it is not claimed as dead meanwhile.
    expect(await store.claimDead(now + 20_000)).toEqual([]);
  });

  it("should leave other instances' entries of the same users alone", async () => {
    const now = Date.now();
    await store.heartbeat("i2", ["shared"], now + 5_000);
    await store.heartbeat("i3", ["shared"], now + 60_000);
    await store.heartbeat("i2", ["shared"], now + 1_000);
    expect(await redis.hgetall(`${prefix}presence:user:shared`)).toEqual({
      i2: String(now + 1_000),
      i3: String(now + 60_000),
    });
    expect((await store.online(["shared"], now + 10_000)).has("shared")).toBe(true);
  });
});
