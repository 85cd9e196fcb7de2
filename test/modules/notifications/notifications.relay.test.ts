import { randomUUID } from "node:crypto";
import { Client } from "pg";
import WebSocket from "ws";
import { createClient } from "graphql-ws";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { AddParticipantsDocument, RemoveParticipantDocument } from "../../gql/graphql";
import { ChannelListener, unrelayed } from "../../helpers/channels";
import { gqlOk } from "../../helpers/client";
import { createDatabase } from "../../helpers/database";
import { createDirect, createGroup, sendText } from "../../helpers/operations";
import { testUser, type TestUser } from "../../helpers/tokens";
import { ConfigError, loadConfig } from "../../../src/config";
import type { MessageCreatedEvent } from "../../../src/modules/notifications/notification.events";

const sorted = (ids: readonly string[] | null) => [...(ids ?? [])].sort();

/** A transaction with its id taken, left open: the relay waits for it before going past it. */
async function openTransaction(databaseUrl: string): Promise<Client> {
  const tx = new Client({ connectionString: databaseUrl });
  await tx.connect();
  await tx.query("begin");
  await tx.query("select pg_current_xact_id()");
  return tx;
}

/** A user with an open, acknowledged graphql-ws connection: ONLINE for presence. */
async function connect(wsUrl: string, user: TestUser) {
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${user.token}` },
    on: { connected: () => connected() },
    onNonLazyError: () => {},
  });
  await ready;
  return client;
}

describe("Notifications: events:message.created relayed from the message table", () => {
  it("should default to the events:message.created channel and refuse invalid settings", () => {
    expect(loadConfig({}).notifications).toEqual({
      channel: "events:message.created",
      pollMs: 1_000,
      batchDelayMs: 100,
      batchSize: 100,
      retryMaxMs: 30_000,
    });
    for (const env of [
      { NOTIFICATIONS_POLL_MS: "0" },
      { NOTIFICATIONS_BATCH_SIZE: "many" },
      { NOTIFICATIONS_BATCH_DELAY_MS: "-1" },
      { NOTIFICATIONS_CHANNEL: "has spaces" },
    ]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
    }
  });

  describe("with Redis up", () => {
    const channel = `test:${randomUUID().slice(0, 8)}:events:message.created`;
    let database: Awaited<ReturnType<typeof createDatabase>>;
    let a: TestApp;
    let b: TestApp;
    let listener: ChannelListener;

    beforeAll(async () => {
      // A database of its own: instances of other test files, with presence under other Redis
      // prefixes, would relay these rows too and see everyone offline.
      database = await createDatabase();
      const env = testEnv({
        DATABASE_URL: database.url,
        NOTIFICATIONS_CHANNEL: channel,
        NOTIFICATIONS_POLL_MS: "100",
        MESSAGE_RATE_LIMIT: "1000",
      });
      [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
      listener = await ChannelListener.open(env.REDIS_URL, channel);
    });
    afterAll(async () => {
      listener?.close();
      await Promise.all([a?.stop(), b?.stop()]);
      await database?.drop();
    });

    it("should publish exactly one event per message, in seq order, with recipients and offline recipients, from two instances", async () => {
      const [alice, bob, carol] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("carol"),
      ]);
      const group = await createGroup(a.url, alice, [bob, carol], "notified");
      const bobOnline = await connect(b.wsUrl, bob);

      const sent = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          sendText(i % 2 ? a.url : b.url, i % 3 ? alice : bob, group.id, `n${i}`).then(
            (message) => ({ ...message, senderId: i % 3 ? alice.id : bob.id }),
          ),
        ),
      );
      // Sent again with the same clientMessageId: the stored message, no second event.
      const first = await sendText(a.url, alice, group.id, "once", "client-1");
      expect((await sendText(b.url, alice, group.id, "once", "client-1")).id).toBe(first.id);
      // A membership change writes a SYSTEM message: no notification for it.
      const dave = await testUser("dave");
      await gqlOk(
        a.url,
        AddParticipantsDocument,
        { conversationId: group.id, userIds: [dave.id] },
        alice.token,
      );
      // Events go out in order, so once the last one is here every earlier one is too.
      const last = await sendText(b.url, bob, group.id, "last");
      const events = await listener.waitFor(group.id, 22);
      await bobOnline.dispose();

      expect(events.map((e) => e.messageId)).toEqual(
        [...sent, first, last].sort((x, y) => x.seq - y.seq).map((m) => m.id),
      );
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((x, y) => x - y));
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
      const senders = new Map(sent.map((m) => [m.id, m.senderId]));
      senders.set(first.id, alice.id).set(last.id, bob.id);
      for (const event of events) {
        const senderId = senders.get(event.messageId)!;
        // Dave joined just before the last message.
        const members = [
          alice.id,
          bob.id,
          carol.id,
          ...(event.messageId === last.id ? [dave.id] : []),
        ];
        const recipients = members.filter((id) => id !== senderId);
        expect(event).toMatchObject<Partial<MessageCreatedEvent>>({
          type: "message.created",
          conversationId: group.id,
          senderId,
        });
        expect(sorted(event.recipientIds)).toEqual(sorted(recipients));
        // Only bob had a connection open.
        expect(sorted(event.offlineRecipientIds)).toEqual(
          sorted(recipients.filter((id) => id !== bob.id)),
        );
        expect(Date.parse(event.createdAt)).not.toBeNaN();
      }

      // One event per message, its id the eventId, and the cursor past all of them.
      expect(events.map((e) => e.eventId)).toEqual(events.map((e) => e.messageId));
      expect(await unrelayed(database.url)).toBe(0);
    });

    it("should wait for a transaction that began before a later one committed, and skip neither", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const early = await createDirect(a.url, alice, bob, "early");
      const late = await createDirect(a.url, alice, bob, "late");
      const earlyId = randomUUID();
      // A send whose transaction takes its id first and commits last, as a slow one would.
      const tx = await openTransaction(database.url);
      try {
        const later = await sendText(b.url, alice, late.id, "committed first");
        await tx.query(
          `with c as (update conversation set last_seq = last_seq + 1 where id = $1
                      returning last_seq)
           insert into message (id, conversation_id, seq, sender_id, kind, text)
           select $2, $1, c.last_seq, $3, 'TEXT', 'committed last' from c`,
          [early.id, earlyId, alice.id],
        );
        // Relay passes run meanwhile (every 100 ms): none may move past the open transaction.
        await new Promise((r) => setTimeout(r, 400));
        expect(listener.of(late.id)).toEqual([]);
        await tx.query("commit");
        const [first] = await listener.waitFor(early.id, 1);
        const [second] = await listener.waitFor(late.id, 1);
        expect(first).toMatchObject({ messageId: earlyId, recipientIds: [bob.id] });
        expect(second).toMatchObject({ messageId: later.id, recipientIds: [bob.id] });
        // In transaction order: the early transaction's event went out first.
        const order = listener.events.map((e) => e.messageId);
        expect(order.indexOf(earlyId)).toBeLessThan(order.indexOf(later.id));
      } finally {
        await tx.end();
      }
    });

    it("should address a message to the members at its commit, not at its relay", async () => {
      const [alice, bob, carol, dave] = await Promise.all(
        ["alice", "bob", "carol", "dave"].map((name) => testUser(name)),
      );
      const group = await createGroup(a.url, alice, [bob, carol], "members at commit");
      // The relay holds back while this transaction is open: the membership changes below
      // commit before it relays the message sent ahead of them.
      const tx = await openTransaction(database.url);
      try {
        const before = await sendText(a.url, alice, group.id, "before the changes");
        await gqlOk(
          a.url,
          AddParticipantsDocument,
          { conversationId: group.id, userIds: [dave.id] },
          alice.token,
        );
        await gqlOk(
          a.url,
          RemoveParticipantDocument,
          { conversationId: group.id, userId: carol.id },
          alice.token,
        );
        const after = await sendText(a.url, alice, group.id, "after the changes");
        await tx.query("commit");
        const events = await listener.waitFor(group.id, 2);
        expect(events.map((e) => [e.messageId, sorted(e.recipientIds)])).toEqual([
          [before.id, sorted([bob.id, carol.id])],
          [after.id, sorted([bob.id, dave.id])],
        ]);
      } finally {
        await tx.end();
      }
    });
  });

  describe("with sends close together", () => {
    const channel = `test:${randomUUID().slice(0, 8)}:events:message.created`;
    let database: Awaited<ReturnType<typeof createDatabase>>;
    let app: TestApp;
    let listener: ChannelListener;

    beforeAll(async () => {
      database = await createDatabase();
      const env = testEnv({
        DATABASE_URL: database.url,
        NOTIFICATIONS_CHANNEL: channel,
        // Only sends wake the relay here.
        NOTIFICATIONS_POLL_MS: "600000",
        NOTIFICATIONS_BATCH_DELAY_MS: "300",
      });
      app = await startTestApp(env);
      listener = await ChannelListener.open(env.REDIS_URL, channel);
    });
    afterAll(async () => {
      listener?.close();
      await app?.stop();
      await database?.drop();
    });

    it("should relay their events together, in one pass, each once and in order", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const direct = await createDirect(app.url, alice, bob, "batched");
      await new Promise((r) => setTimeout(r, 400)); // past the start-up pass
      app.statements.length = 0;
      const sent = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sendText(app.url, alice, direct.id, `b${i}`)),
      );
      const events = await listener.waitFor(direct.id, 20);
      expect(events.map((e) => e.seq)).toEqual(sent.map((m) => m.seq).sort((x, y) => x - y));
      const passes = app.statements.filter((sql) => sql.includes("pg_advisory_xact_lock"));
      expect(passes.length).toBeLessThanOrEqual(2);
    });
  });
});
