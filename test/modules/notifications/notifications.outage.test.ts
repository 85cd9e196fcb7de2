import { Redis } from "ioredis";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { ChannelListener, unrelayed } from "../../helpers/channels";
import { createDatabase } from "../../helpers/database";
import { eventually } from "../../helpers/eventually";
import { createGroup, sendText } from "../../helpers/operations";
import { RedisServer } from "../../helpers/redis-server";
import { testUser, type TestUser } from "../../helpers/tokens";
import type { MessageCreatedEvent } from "../../../src/modules/notifications/notification.events";

const sorted = (ids: readonly string[] | null) => [...(ids ?? [])].sort();

describe("Notifications: events:message.created relayed from the message table", () => {
  describe("through a Redis outage and restarts", () => {
    const channel = "events:message.created";
    let redis: RedisServer;
    let database: Awaited<ReturnType<typeof createDatabase>>;
    let env: Record<string, string>;
    let app: TestApp | null = null;
    let alice: TestUser;
    let bob: TestUser;

    beforeAll(async () => {
      // A database of its own: instances of other test files must not relay these rows to their Redis.
      [redis, database, alice, bob] = await Promise.all([
        RedisServer.start(),
        createDatabase(),
        testUser("alice"),
        testUser("bob"),
      ]);
      env = testEnv({
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        NOTIFICATIONS_POLL_MS: "50",
        NOTIFICATIONS_RETRY_MAX_MS: "200",
      });
    });
    afterAll(async () => {
      await app?.stop();
      await redis?.stop();
      await database?.drop();
    });

    it("should hold events while Redis is down and publish each exactly once when it is back", async () => {
      app = await startTestApp(env);
      const group = await createGroup(app.url, alice, [bob], "outage");
      let listener = await ChannelListener.open(redis.url, channel);
      const before = [
        await sendText(app.url, alice, group.id, "before 1"),
        await sendText(app.url, alice, group.id, "before 2"),
      ];
      await listener.waitFor(group.id, 2);
      await eventually(async () => (await unrelayed(database.url)) === 0, "all relayed");
      listener.close();

      await redis.stop();
      // Sending still works: the events wait behind the relay's cursor, and the relay keeps failing.
      const during = [];
      for (let i = 1; i <= 3; i++)
        during.push(await sendText(app.url, alice, group.id, `during ${i}`));
      const failures = async () =>
        /chat_notification_relay_failures_total (\d+)/.exec(await metricsOf(app!))?.[1];
      await eventually(async () => Number(await failures()) >= 1, "a failed relay attempt");
      expect(
        await unrelayed(
          database.url,
          during.map((m) => m.id),
        ),
      ).toBe(3);

      // Back up, but refusing clients without the password until this test's listener is
      // subscribed: pub/sub keeps nothing for late subscribers, and the relay retries on its own.
      await redis.start("outage-password");
      listener = await ChannelListener.open(redis.url, channel, "outage-password");
      const admin = new Redis(redis.url, { password: "outage-password" });
      await admin.config("SET", "requirepass", "");
      admin.disconnect();

      const after = await sendText(app.url, alice, group.id, "after");
      const events = await listener.waitFor(group.id, 4);
      expect(events.map((e) => e.messageId)).toEqual([...during, after].map((m) => m.id));
      expect(events.every((e) => sorted(e.offlineRecipientIds).join() === bob.id)).toBe(true);
      expect(events.some((e) => before.some((m) => m.id === e.messageId))).toBe(false);
      expect(
        await unrelayed(
          database.url,
          [...during, after].map((m) => m.id),
        ),
      ).toBe(0);

      // A normal restart publishes nothing twice: the next event is the next message.
      await app.stop();
      app = await startTestApp(env);
      const restarted = await sendText(app.url, alice, group.id, "after restart");
      const all = await listener.waitFor(group.id, 5);
      expect(all.map((e) => e.messageId)).toEqual([...during, after, restarted].map((m) => m.id));
      listener.close();
    });

    it("should publish events left unsent by a stopped instance when the next one starts", async () => {
      const group = await createGroup(app!.url, alice, [bob], "left behind");
      await redis.stop();
      const pending = await sendText(app!.url, alice, group.id, "while down");
      // Stopping cannot relay it (its final pass fails), so it stays behind the cursor.
      await app!.stop();
      app = null;
      expect(await unrelayed(database.url, [pending.id])).toBe(1);

      await redis.start();
      const listener = await ChannelListener.open(redis.url, channel);
      app = await startTestApp(env);
      const [event] = await listener.waitFor(group.id, 1);
      expect(event).toMatchObject({ messageId: pending.id, recipientIds: [bob.id] });
      const next = await sendText(app.url, alice, group.id, "next");
      expect((await listener.waitFor(group.id, 2)).map((e) => e.messageId)).toEqual([
        pending.id,
        next.id,
      ]);
      listener.close();
    });
  });

  describe("embedded (no REDIS_URL)", () => {
    let database: Awaited<ReturnType<typeof createDatabase>>;
    let app: TestApp;

    beforeAll(async () => {
      database = await createDatabase();
      const env = testEnv({
        DATABASE_URL: database.url,
        NOTIFICATIONS_POLL_MS: "50",
      });
      delete env.REDIS_URL;
      app = await startTestApp(env);
    });
    afterAll(async () => {
      await app?.stop();
      await database?.drop();
    });

    it("should relay events to the in-process bus under the same channel and move the cursor past them", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const events: MessageCreatedEvent[] = [];
      await app.app.services.pubsub.subscribe("events:message.created", (event) => {
        events.push(event as MessageCreatedEvent);
      });
      const group = await createGroup(app.url, alice, [bob], "embedded");
      const message = await sendText(app.url, alice, group.id, "local");
      await eventually(() => events.length === 1, "the in-process event");
      expect(events[0]).toMatchObject({
        messageId: message.id,
        recipientIds: [bob.id],
        offlineRecipientIds: [bob.id],
      });
      await eventually(
        async () => (await unrelayed(database.url, [message.id])) === 0,
        "the cursor past it",
      );
    });
  });
});

async function metricsOf(app: TestApp): Promise<string> {
  return (await fetch(new URL("/metrics", app.url))).text();
}
