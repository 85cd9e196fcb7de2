import { Redis } from "ioredis";
import { ConversationDocument, MessageAddedDocument } from "../../gql/graphql";
import { Collector, gqlOk, waitForChannel, wsClient } from "../../helpers/client";
import { TEST_REDIS_URL } from "../../helpers/env";
import { createDirect, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

describe("Subscription.messageAdded", () => {
  const env = testEnv();
  let a: TestApp;
  let b: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  const channel = (conversationId: string) =>
    `${env.REDIS_PREFIX}conversation:${conversationId}:message-added`;

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("should deliver a message sent through one instance to a subscriber on another", async () => {
    const conversation = await createDirect(a.url, alice, bob);
    const ws = wsClient(b.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: conversation.id });
    await waitForChannel(channel(conversation.id));

    await sendText(a.url, alice, conversation.id, "hello from instance A");
    const [event] = await sub.take(1);
    expect(event.messageAdded).toMatchObject({
      conversationId: conversation.id,
      seq: 1,
      text: "hello from instance A",
      kind: "TEXT",
      sender: { id: alice.id, displayName: alice.id },
    });
    sub.stop();
    await ws.dispose();
  });

  it("should resume after a disconnect with afterSeq: stored messages, then live, no gap, no duplicate", async () => {
    const conversation = await createDirect(a.url, alice, bob, "resume");
    for (let i = 1; i <= 3; i++) await sendText(a.url, alice, conversation.id, `m${i}`);

    const first = wsClient(b.wsUrl, bob.token);
    const sub1 = new Collector(first.client, MessageAddedDocument, {
      conversationId: conversation.id,
      afterSeq: 0,
    });
    expect((await sub1.take(3)).map((v) => v.messageAdded.seq)).toEqual([1, 2, 3]);
    await first.dispose();

    // Sent while bob is offline.
    for (let i = 4; i <= 6; i++) await sendText(a.url, alice, conversation.id, `m${i}`);

    const second = wsClient(b.wsUrl, bob.token);
    const sub2 = new Collector(second.client, MessageAddedDocument, {
      conversationId: conversation.id,
      afterSeq: 3,
    });
    expect((await sub2.take(3)).map((v) => v.messageAdded.text)).toEqual(["m4", "m5", "m6"]);
    await waitForChannel(channel(conversation.id));
    for (let i = 7; i <= 9; i++) await sendText(b.url, bob, conversation.id, `m${i}`);
    const seqs = (await sub2.take(6)).map((v) => v.messageAdded.seq);
    expect(seqs).toEqual([4, 5, 6, 7, 8, 9]);
    await new Promise((r) => setTimeout(r, 100));
    expect(sub2.values).toHaveLength(6);
    await second.dispose();
  });

  it("should replay and stream in seq order while messages are sent concurrently through both instances", async () => {
    const conversation = await createDirect(a.url, alice, bob, "race");
    const ws = wsClient(a.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, {
      conversationId: conversation.id,
      afterSeq: 0,
    });
    await waitForChannel(channel(conversation.id));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sendText(i % 2 ? a.url : b.url, i % 3 ? alice : bob, conversation.id, `c${i}`),
      ),
    );
    const seqs = (await sub.take(40)).map((v) => v.messageAdded.seq);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    await ws.dispose();
  });

  it("should stream every conversation of the viewer without conversationId, including one created later", async () => {
    const carol = await testUser("carol");
    const first = await createDirect(a.url, alice, carol, "inbox-1");
    const ws = wsClient(b.wsUrl, carol.token);
    const sub = new Collector(ws.client, MessageAddedDocument, {});
    await waitForChannel(channel(first.id));
    await waitForChannel(`${env.REDIS_PREFIX}user:${carol.id}:membership`);

    await sendText(a.url, alice, first.id, "in the first");
    const second = await createDirect(a.url, bob, carol, "inbox-2");
    await waitForChannel(channel(second.id));
    await sendText(a.url, bob, second.id, "in the second");

    const events = (await sub.take(2)).map((v) => v.messageAdded);
    expect(events.map((m) => [m.conversationId, m.text])).toEqual([
      [first.id, "in the first"],
      [second.id, "in the second"],
    ]);
    await ws.dispose();
  });

  it("should refuse a conversation the viewer is not in with NOT_FOUND", async () => {
    const mallory = await testUser("mallory");
    const conversation = await createDirect(a.url, alice, bob, "private");
    const ws = wsClient(a.wsUrl, mallory.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: conversation.id });
    await sub.ended();
    expect(sub.values).toEqual([]);
    expect(JSON.stringify(sub.errors)).toContain("NOT_FOUND");
    await sendText(a.url, alice, conversation.id, "secret");
    await new Promise((r) => setTimeout(r, 100));
    expect(sub.values).toEqual([]);
    await ws.dispose();
  });

  it("should refuse afterSeq without conversationId, and ahead of the conversation, with BAD_USER_INPUT", async () => {
    const conversation = await createDirect(a.url, alice, bob, "bad-args");
    const ws = wsClient(a.wsUrl, alice.token);
    for (const variables of [
      { afterSeq: 0 },
      { conversationId: conversation.id, afterSeq: 99 },
      { conversationId: "nope" },
    ]) {
      const sub = new Collector(ws.client, MessageAddedDocument, variables);
      await sub.ended();
      expect(JSON.stringify(sub.errors)).toContain("BAD_USER_INPUT");
    }
    await ws.dispose();
  });

  it("should keep a conversation's lastSeq in step with what subscribers receive", async () => {
    const conversation = await createDirect(a.url, alice, bob, "lastseq");
    await sendText(a.url, alice, conversation.id, "one");
    const data = await gqlOk(b.url, ConversationDocument, { id: conversation.id }, bob.token);
    expect(data.conversation).toMatchObject({ lastSeq: 1, lastMessage: { seq: 1, text: "one" } });
  });
});

describe("Subscription.messageAdded with events out of order", () => {
  // The subscriber's instance resyncs only when told to here: what it reads, it read for a gap.
  const env = testEnv({ STREAM_RESYNC_MS: "600000", STREAM_GAP_WAIT_MS: "200" });
  /** Sends through its own Redis prefix: its events reach only the test, which replays them. */
  const quiet = { ...env, REDIS_PREFIX: `${env.REDIS_PREFIX}quiet:` };
  let subscriberSide: TestApp;
  let sender: TestApp;
  let redis: Redis;
  let listener: Redis;
  const captured: string[] = [];
  const channel = (prefix: string, conversationId: string) =>
    `${prefix}conversation:${conversationId}:message-added`;
  /** readRange: how a feed reads messages it did not get live. */
  const reads = () =>
    subscriberSide.statements.filter((sql) => sql.includes("sender_display_name"));

  beforeAll(async () => {
    [subscriberSide, sender] = await Promise.all([startTestApp(env), startTestApp(quiet)]);
    redis = new Redis(TEST_REDIS_URL);
    listener = new Redis(TEST_REDIS_URL);
    await listener.psubscribe(`${quiet.REDIS_PREFIX}conversation:*:message-added`);
    listener.on("pmessage", (_pattern, _channel, message: string) => captured.push(message));
  });
  afterAll(async () => {
    listener?.disconnect();
    redis?.disconnect();
    await Promise.all([subscriberSide?.stop(), sender?.stop()]);
  });

  async function sendQuietly(from: TestUser, conversationId: string, text: string) {
    const before = captured.length;
    await sendText(sender.url, from, conversationId, text);
    while (captured.length === before) await new Promise((r) => setTimeout(r, 5));
    return captured[captured.length - 1];
  }

  it("should deliver a message that arrives before the one it follows in seq order, reading nothing", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    const conversation = await createDirect(sender.url, alice, bob, "reordered");
    const ws = wsClient(subscriberSide.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: conversation.id });
    await waitForChannel(channel(env.REDIS_PREFIX, conversation.id));
    const first = await sendQuietly(alice, conversation.id, "first");
    const second = await sendQuietly(alice, conversation.id, "second");
    subscriberSide.statements.length = 0;

    const live = channel(env.REDIS_PREFIX, conversation.id);
    await redis.publish(live, second);
    await redis.publish(live, first);
    const got = await sub.take(2);
    expect(got.map((v) => [v.messageAdded.seq, v.messageAdded.text])).toEqual([
      [1, "first"],
      [2, "second"],
    ]);
    expect(reads()).toEqual([]);
    await ws.dispose();
  });

  it("should read a message whose event never arrives once the gap wait is over, then go on in order", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    const conversation = await createDirect(sender.url, alice, bob, "lost");
    const ws = wsClient(subscriberSide.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: conversation.id });
    await waitForChannel(channel(env.REDIS_PREFIX, conversation.id));
    await sendQuietly(alice, conversation.id, "lost on the way");
    const second = await sendQuietly(alice, conversation.id, "arrives");
    subscriberSide.statements.length = 0;

    await redis.publish(channel(env.REDIS_PREFIX, conversation.id), second);
    const got = await sub.take(2);
    expect(got.map((v) => [v.messageAdded.seq, v.messageAdded.text])).toEqual([
      [1, "lost on the way"],
      [2, "arrives"],
    ]);
    expect(reads()).toHaveLength(1);
    expect(sub.values).toHaveLength(2);
    await ws.dispose();
  });
});
