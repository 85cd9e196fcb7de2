import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { MeDocument, SendMessageDocument } from "../../gql/graphql";
import { ChannelListener } from "../../helpers/channels";
import { gql, gqlOk } from "../../helpers/client";
import { createDirect, createGroup, messagesOf, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testDatabaseUrl } from "../../helpers/env";
import { testUser, type TestUser } from "../../helpers/tokens";

/**
 * sendMessage writes in one statement when nothing stands in the way, and falls back to
 * lock-then-read when a membership change commits while it waits for the conversation's lock.
 */
describe("Mutation.sendMessage in one statement", () => {
  const channel = `test:${randomUUID().slice(0, 8)}:events:message.created`;
  let app: TestApp;
  let db: Client;
  let notifications: ChannelListener;

  beforeAll(async () => {
    const env = testEnv({ NOTIFICATIONS_CHANNEL: channel });
    app = await startTestApp(env);
    notifications = await ChannelListener.open(env.REDIS_URL, channel);
    db = new Client({ connectionString: testDatabaseUrl() });
    await db.connect();
  });
  afterAll(async () => {
    notifications?.close();
    await db?.end();
    await app?.stop();
  });

  /** The notification relay's own statements, which run beside a send's. */
  const relaying = (sql: string) =>
    /pg_advisory_xact_lock|relay_cursor/.test(sql) || sql === "begin" || sql === "commit";

  /**
   * Holds the conversation's row lock as another instance's membership change would, starts a
   * send, and once it waits for the lock, runs `change` and commits.
   */
  async function sendDuring(
    conversationId: string,
    sender: TestUser,
    change: (tx: Client) => Promise<void>,
  ) {
    const tx = new Client({ connectionString: testDatabaseUrl() });
    await tx.connect();
    try {
      await tx.query("begin");
      await tx.query("select 1 from conversation where id = $1 for update", [conversationId]);
      const sending = gql(
        app.url,
        SendMessageDocument,
        { input: { conversationId, text: "sent while the membership changed" } },
        sender.token,
      );
      for (let i = 0; ; i++) {
        const { rows } = await db.query(
          `select 1 from pg_stat_activity where wait_event_type = 'Lock'
              and query like '%update conversation c set last_seq%'`,
        );
        if (rows.length) break;
        if (i > 500) throw new Error("the send never waited for the lock");
        await new Promise((r) => setTimeout(r, 10));
      }
      await change(tx);
      await tx.query("commit");
      return await sending;
    } finally {
      await tx.end();
    }
  }

  it("should store a message, move the conversation and the read position in one statement, and notify of it", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    const direct = await createDirect(app.url, alice, bob, "one statement");
    await gqlOk(app.url, MeDocument, {}, alice.token);
    app.statements.length = 0;
    const sent = await sendText(app.url, alice, direct.id, "hello", "one-statement-1");
    expect(app.statements.filter((sql) => !relaying(sql))).toHaveLength(1);

    expect(sent.seq).toBe(1);
    const conversation = await db.query(
      `select last_seq, last_message_id from conversation where id = $1`,
      [direct.id],
    );
    expect(conversation.rows[0]).toEqual({ last_seq: 1, last_message_id: sent.id });
    const reads = await db.query(
      `select user_id, last_read_seq from participant where conversation_id = $1 order by user_id`,
      [direct.id],
    );
    expect(Object.fromEntries(reads.rows.map((r) => [r.user_id, r.last_read_seq]))).toEqual({
      [alice.id]: 1,
      [bob.id]: 0,
    });
    expect(await notifications.waitFor(direct.id, 1)).toEqual([
      {
        eventId: sent.id,
        type: "message.created",
        messageId: sent.id,
        conversationId: direct.id,
        seq: 1,
        senderId: alice.id,
        recipientIds: [bob.id],
        offlineRecipientIds: [bob.id],
        createdAt: expect.any(String),
      },
    ]);
    // A retry is found, not stored again, in statements of its own.
    const again = await sendText(app.url, alice, direct.id, "hello", "one-statement-1");
    expect(again.id).toBe(sent.id);
    expect(
      (await messagesOf(app.url, alice, direct.id)).map(
        (m: { seq: number; id: string; text: string }) => m.seq,
      ),
    ).toEqual([1]);
  });

  describe("when a membership change commits while the send waits for the lock", () => {
    it("should answer a sender removed meanwhile NOT_FOUND and store nothing", async () => {
      const [alice, bob, carol] = await Promise.all(
        ["alice", "bob", "carol"].map((name) => testUser(name)),
      );
      const group = await createGroup(app.url, alice, [bob, carol], "removal race");
      await sendText(app.url, carol, group.id, "before");
      const result = await sendDuring(group.id, carol, async (tx) => {
        await tx.query(
          `update participant set left_at = now() where conversation_id = $1 and user_id = $2`,
          [group.id, carol.id],
        );
      });
      expect(result.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      const history = await messagesOf(app.url, alice, group.id);
      expect(history.map((m: { seq: number; id: string; text: string }) => m.text)).not.toContain(
        "sent while the membership changed",
      );
      const { rows } = await db.query(`select last_seq from conversation where id = $1`, [
        group.id,
      ]);
      expect(rows[0].last_seq).toBe(history[history.length - 1].seq);
    });

    it("should address a member added meanwhile", async () => {
      const [alice, bob, dave] = await Promise.all(
        ["alice", "bob", "dave"].map((name) => testUser(name)),
      );
      const group = await createGroup(app.url, alice, [bob], "addition race");
      await gqlOk(app.url, MeDocument, {}, dave.token);
      const result = await sendDuring(group.id, bob, async (tx) => {
        await tx.query(
          `insert into participant (conversation_id, user_id, role, joined_at, last_read_seq)
           select $1, $2, 'MEMBER', now(), last_seq from conversation where id = $1`,
          [group.id, dave.id],
        );
      });
      expect(result.errors).toBeUndefined();
      const sent = result.data!.sendMessage;
      const [event] = await notifications.waitFor(group.id, 1);
      expect(event.messageId).toBe(sent.id);
      expect(event.recipientIds.sort()).toEqual([alice.id, dave.id].sort());
      // Dave, a member now, reads it.
      expect(
        (await messagesOf(app.url, dave, group.id)).map(
          (m: { seq: number; id: string; text: string }) => m.id,
        ),
      ).toContain(sent.id);
    });

    it("should give concurrent sends consecutive seqs, each once", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const group = await createGroup(app.url, alice, [bob], "busy");
      const sent = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          sendText(app.url, i % 2 ? alice : bob, group.id, `m${i}`),
        ),
      );
      expect(
        sent.map((m: { seq: number; id: string; text: string }) => m.seq).sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const history = await messagesOf(app.url, alice, group.id);
      expect(history.map((m: { seq: number; id: string; text: string }) => m.seq)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
    });
  });
});
