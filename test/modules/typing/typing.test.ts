import { SetTypingDocument, TypingDocument } from "../../gql/graphql";
import { Collector, gql, gqlOk, waitForChannel, wsClient } from "../../helpers/client";
import { createDirect, createGroup, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

describe("Subscription.typing", () => {
  // Short intervals so expiry is observable without long sleeps.
  const env = testEnv({ TYPING_TTL_MS: "600", TYPING_THROTTLE_MS: "1000" });
  let a: TestApp;
  let b: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  const channel = (id: string) => `${env.REDIS_PREFIX}conversation:${id}:typing`;

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  async function watch(app: TestApp, user: TestUser, conversationId: string) {
    const ws = wsClient(app.wsUrl, user.token);
    const sub = new Collector(ws.client, TypingDocument, { conversationId });
    await waitForChannel(channel(conversationId));
    return { ws, sub };
  }

  it("should deliver typing to others on another instance, then isTyping false when it expires", async () => {
    const conversation = await createDirect(a.url, alice, bob, "typing-expiry");
    const { ws, sub } = await watch(b, bob, conversation.id);
    await gqlOk(
      a.url,
      SetTypingDocument,
      { conversationId: conversation.id, isTyping: true },
      alice.token,
    );
    const [start, end] = (await sub.take(2)).map((v) => v.typing);
    expect(start).toMatchObject({ isTyping: true, user: { id: alice.id } });
    expect(new Date(start.expiresAt!).getTime()).toBeGreaterThan(Date.now() - 5_000);
    expect(end).toMatchObject({ isTyping: false, expiresAt: null, user: { id: alice.id } });
    await ws.dispose();
  });

  it("should coalesce repeated calls within the throttle and keep typing alive while refreshed", async () => {
    const conversation = await createDirect(a.url, alice, bob, "typing-throttle");
    const { ws, sub } = await watch(b, bob, conversation.id);
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await gqlOk(
            a.url,
            SetTypingDocument,
            { conversationId: conversation.id, isTyping: true },
            alice.token,
          )
        ).setTyping,
      ).toBe(true);
    }
    await gqlOk(
      a.url,
      SetTypingDocument,
      { conversationId: conversation.id, isTyping: false },
      alice.token,
    );
    const events = (await sub.take(2)).map((v) => v.typing.isTyping);
    expect(events).toEqual([true, false]);
    await ws.dispose();
  });

  it("should end typing at once when the typist sends a message, and not echo to the typist", async () => {
    const conversation = await createDirect(a.url, alice, bob, "typing-send");
    const own = wsClient(a.wsUrl, alice.token);
    const ownSub = new Collector(own.client, TypingDocument, { conversationId: conversation.id });
    const { ws, sub } = await watch(b, bob, conversation.id);
    await waitForChannel(channel(conversation.id), 2);
    await gqlOk(
      a.url,
      SetTypingDocument,
      { conversationId: conversation.id, isTyping: true },
      alice.token,
    );
    await sub.take(1);
    await sendText(a.url, alice, conversation.id, "done typing");
    const [, stop] = await sub.take(2);
    expect(stop.typing).toMatchObject({ isTyping: false, user: { id: alice.id } });
    expect(ownSub.values).toEqual([]);
    await Promise.all([ws.dispose(), own.dispose()]);
  });

  it("should end typing when the typist disconnects", async () => {
    const conversation = await createDirect(a.url, alice, bob, "typing-disconnect");
    const { ws, sub } = await watch(b, bob, conversation.id);
    const typist = wsClient(a.wsUrl, alice.token);
    await gqlOk(
      a.url,
      SetTypingDocument,
      { conversationId: conversation.id, isTyping: true },
      alice.token,
    );
    await sub.take(1);
    // Long TTL would keep it; the disconnect ends it.
    await typist.dispose();
    const [, stop] = await sub.take(2);
    expect(stop.typing.isTyping).toBe(false);
    await ws.dispose();
  });

  it("should refuse non-participants on the mutation and the subscription", async () => {
    const mallory = await testUser("mallory");
    const conversation = await createGroup(a.url, alice, [bob], "typing-private");
    const res = await gql(
      a.url,
      SetTypingDocument,
      { conversationId: conversation.id, isTyping: true },
      mallory.token,
    );
    expect(res.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const ws = wsClient(a.wsUrl, mallory.token);
    const sub = new Collector(ws.client, TypingDocument, { conversationId: conversation.id });
    await sub.ended();
    expect(JSON.stringify(sub.errors)).toContain("NOT_FOUND");
    await ws.dispose();
  });
});
