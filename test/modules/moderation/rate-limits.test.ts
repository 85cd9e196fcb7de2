import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  BlockUserDocument,
  ConversationDocument,
  CreateConversationDocument,
  MeDocument,
  ReportDocument,
  SendMessageDocument,
  SetTypingDocument,
  UnblockUserDocument,
} from "../../gql/graphql";
import {
  codeOf,
  Collector,
  connected,
  gql,
  gqlOk,
  subscriptionCodes,
  wsClient,
  type GraphQLResponse,
} from "../../helpers/client";
import { createDirect, createGroup } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";
const WINDOW_MS = 60_000;

/** RATE_LIMITED with a retry delay within the window. */
function expectLimited(result: GraphQLResponse) {
  expect(codeOf(result)).toBe("RATE_LIMITED");
  expect(result.data).toBeNull();
  const retryAfterMs = result.errors?.[0]?.extensions?.retryAfterMs;
  expect(retryAfterMs).toBeGreaterThan(0);
  expect(retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
  expect(result.errors?.[0]?.message).toMatch(/^Too many .+; retry in \d+ s$/);
}

describe("Rate limits", () => {
  const env = testEnv({
    MESSAGE_RATE_LIMIT: "3",
    MESSAGE_RATE_WINDOW_MS: String(WINDOW_MS),
    CONVERSATION_RATE_LIMIT: "2",
    CONVERSATION_RATE_WINDOW_MS: String(WINDOW_MS),
    REPORT_RATE_LIMIT: "2",
    REPORT_RATE_WINDOW_MS: String(WINDOW_MS),
    BLOCK_RATE_LIMIT: "2",
    BLOCK_RATE_WINDOW_MS: String(WINDOW_MS),
    TYPING_RATE_LIMIT: "2",
    TYPING_RATE_WINDOW_MS: String(WINDOW_MS),
    TYPING_THROTTLE_MS: "0",
    CONNECTION_RATE_LIMIT: "2",
    CONNECTION_RATE_WINDOW_MS: String(WINDOW_MS),
  });
  // Two instances with the same REDIS_PREFIX share every counter.
  let a: TestApp;
  let b: TestApp;

  const send = (app: TestApp, from: TestUser, conversationId: string, text: string, id?: string) =>
    gql(
      app.url,
      SendMessageDocument,
      { input: { conversationId, text, clientMessageId: id } },
      from.token,
    );
  /** A conversation made by someone else, so the sender's own conversation count is untouched. */
  const conversationWith = async (user: TestUser) => {
    const host = await testUser("host");
    return createDirect(a.url, host, user);
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  describe("MESSAGE_RATE_LIMIT", () => {
    it("should refuse the 4th message within the window with RATE_LIMITED and retryAfterMs", async () => {
      const alice = await testUser("alice");
      const { id } = await conversationWith(alice);
      for (let i = 1; i <= 3; i++)
        expect((await send(a, alice, id, `m${i}`)).errors).toBeUndefined();
      expectLimited(await send(a, alice, id, "m4"));
      // The refused message was not stored.
      const data = await gqlOk(a.url, ConversationDocument, { id }, alice.token);
      expect(data.conversation!.lastSeq).toBe(3);
      // Others are not affected.
      const bob = await testUser("bob");
      const other = await conversationWith(bob);
      expect((await send(a, bob, other.id, "hi")).errors).toBeUndefined();
    });

    it("should share the count between instances with the same REDIS_PREFIX", async () => {
      const alice = await testUser("alice");
      const { id } = await conversationWith(alice);
      expect((await send(a, alice, id, "a1")).errors).toBeUndefined();
      expect((await send(a, alice, id, "a2")).errors).toBeUndefined();
      expect((await send(b, alice, id, "b1")).errors).toBeUndefined();
      expectLimited(await send(b, alice, id, "b2"));
      expectLimited(await send(a, alice, id, "a3"));
    });

    it("should not count an idempotent retry with the same clientMessageId", async () => {
      const alice = await testUser("alice");
      const { id } = await conversationWith(alice);
      const first = await send(a, alice, id, "once", "client-1");
      for (const app of [a, b, a, b]) {
        const retry = await send(app, alice, id, "once", "client-1");
        expect(retry.errors).toBeUndefined();
        expect(retry.data!.sendMessage.id).toBe(first.data!.sendMessage.id);
      }
      expect((await send(a, alice, id, "two", "client-2")).errors).toBeUndefined();
      expect((await send(b, alice, id, "three")).errors).toBeUndefined();
      expectLimited(await send(a, alice, id, "four", "client-4"));
    });

    it("should refuse several sendMessage in one operation before running any, so none is stored and none counted", async () => {
      const alice = await testUser("alice");
      const { id } = await conversationWith(alice);
      // Four aliases over a limit of three: run, the 4th would fail after three were stored.
      const aliased = `mutation($id: ID!) { ${[1, 2, 3, 4]
        .map((i) => `m${i}: sendMessage(input: { conversationId: $id, text: "m${i}" }) { id }`)
        .join(" ")} }`;
      const overHttp = await gql(a.url, aliased, { id }, alice.token);
      expect({ status: overHttp.status, code: codeOf(overHttp) }).toEqual({
        status: 400,
        code: "GRAPHQL_VALIDATION_FAILED",
      });
      expect(overHttp.errors).toHaveLength(1);
      expect(overHttp.errors?.[0]?.message).toMatch(/^At most one of sendMessage.* per operation/);
      const ws = await connected(b.wsUrl, alice);
      try {
        const overWs = new Collector(ws.client, aliased, { id });
        await overWs.ended();
        expect(overWs.values).toEqual([]);
        expect(subscriptionCodes(overWs)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
      } finally {
        await ws.dispose();
      }
      const { conversation } = await gqlOk(a.url, ConversationDocument, { id }, alice.token);
      expect(conversation!.lastSeq).toBe(0);
      // Her whole allowance is left, one message a request.
      for (let i = 1; i <= 3; i++) {
        expect((await send(a, alice, id, `one by one ${i}`)).errors).toBeUndefined();
      }
      expectLimited(await send(a, alice, id, "one too many"));
    });
  });

  describe("CONVERSATION_RATE_LIMIT", () => {
    it("should refuse the 3rd new conversation, but still return an existing DIRECT one", async () => {
      const [alice, bob, carol] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("carol"),
      ]);
      const direct = await createDirect(a.url, alice, bob, "limit");
      await createGroup(b.url, alice, [bob, carol], "second");
      const third = await gql(
        a.url,
        CreateConversationDocument,
        { input: { kind: "GROUP", title: "third", participantIds: [carol.id] } },
        alice.token,
      );
      expectLimited(third);
      // Asking for the existing DIRECT conversation again creates nothing and is not refused.
      const again = await createDirect(b.url, alice, bob, "limit");
      expect(again.id).toBe(direct.id);
    });
  });

  describe("BLOCK_RATE_LIMIT", () => {
    it("should refuse the 3rd block across instances, block nobody then, and leave unblocking free", async () => {
      const [alice, bob, carol, dave] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("carol"),
        testUser("dave"),
      ]);
      const block = (app: TestApp, userId: string) =>
        gql(app.url, BlockUserDocument, { userId }, alice.token);
      expect((await block(a, bob.id)).data?.blockUser).toBe(true);
      expect((await block(b, carol.id)).data?.blockUser).toBe(true);
      expectLimited(await block(a, dave.id));
      // An id nobody uses gets no row either: the limit holds before anything is written.
      expectLimited(await block(b, `nobody-${Date.now()}`));
      const blocked = await gqlOk(a.url, `{ blockedUsers { id } }`, {}, alice.token);
      expect((blocked.blockedUsers as Array<{ id: string }>).map((u) => u.id).sort()).toEqual(
        [bob.id, carol.id].sort(),
      );
      const unblock = await gqlOk(b.url, UnblockUserDocument, { userId: bob.id }, alice.token);
      expect(unblock.unblockUser).toBe(true);
    });
  });

  describe("REPORT_RATE_LIMIT", () => {
    it("should refuse the 3rd new report, while repeating an open one is not counted", async () => {
      const [alice, bob, carol, dave] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("carol"),
        testUser("dave"),
      ]);
      await createGroup(a.url, bob, [alice, carol, dave], "reports");
      const report = (app: TestApp, userId: string) =>
        gql(app.url, ReportDocument, { input: { userId, reason: "SPAM" } }, alice.token);
      const first = await report(a, bob.id);
      expect(first.errors).toBeUndefined();
      for (const app of [a, b, a]) {
        expect((await report(app, bob.id)).data?.report.id).toBe(first.data!.report.id);
      }
      expect((await report(b, carol.id)).errors).toBeUndefined();
      expectLimited(await report(a, dave.id));
    });

    it("should count a refused report like a new one, so probing who shares a conversation costs the same", async () => {
      const [alice, bob, stranger] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("stranger"),
      ]);
      await createGroup(a.url, bob, [alice], "probing");
      await gqlOk(a.url, MeDocument, {}, stranger.token);
      const refused = await gql(
        a.url,
        ReportDocument,
        { input: { userId: stranger.id, reason: "SPAM" } },
        alice.token,
      );
      expect(codeOf(refused)).toBe("NOT_FOUND");
      const unknown = await gql(
        b.url,
        ReportDocument,
        { input: { messageId: "00000000-0000-4000-8000-000000000000", reason: "SPAM" } },
        alice.token,
      );
      expect(codeOf(unknown)).toBe("NOT_FOUND");
      // Two points spent: a report alice may make is refused now, and so is the next probe.
      expectLimited(
        await gql(
          a.url,
          ReportDocument,
          { input: { userId: bob.id, reason: "SPAM" } },
          alice.token,
        ),
      );
      expectLimited(
        await gql(
          b.url,
          ReportDocument,
          { input: { userId: stranger.id, reason: "SPAM" } },
          alice.token,
        ),
      );
    });
  });

  describe("TYPING_RATE_LIMIT", () => {
    it("should refuse the 3rd typing event within the window; stopping is never refused", async () => {
      const alice = await testUser("alice");
      const { id } = await conversationWith(alice);
      for (const app of [a, b]) {
        expect(
          (
            await gql(
              app.url,
              SetTypingDocument,
              { conversationId: id, isTyping: true },
              alice.token,
            )
          ).errors,
        ).toBe(undefined);
      }
      expectLimited(
        await gql(a.url, SetTypingDocument, { conversationId: id, isTyping: true }, alice.token),
      );
      expect(
        (
          await gqlOk(
            b.url,
            SetTypingDocument,
            { conversationId: id, isTyping: false },
            alice.token,
          )
        ).setTyping,
      ).toBe(true);
    });
  });

  describe("CONNECTION_RATE_LIMIT", () => {
    it("should close the 3rd connection attempt within the window with 4429", async () => {
      const alice = await testUser("alice");
      // Attempts count even when the connections close again at once.
      for (const app of [a, b]) {
        const ws = await connected(app.wsUrl, alice);
        await ws.dispose();
      }
      const third = wsClient(a.wsUrl, alice.token);
      expect(await third.closed).toEqual({ code: 4429, reason: "Too many connection attempts" });
      await third.dispose();
      // Another user still connects.
      const bob = await testUser("bob");
      await (await connected(b.wsUrl, bob)).dispose();
    });
  });

  describe("with a policy endpoint that refuses", () => {
    let server: http.Server;
    let app: TestApp;
    let asked = 0;

    beforeAll(async () => {
      server = http.createServer((req, res) => {
        asked++;
        req.resume();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ allow: false, reason: "not eligible" }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      app = await startTestApp({ ...env, CHAT_POLICY_URL: `http://127.0.0.1:${port}/` });
    });
    afterAll(async () => {
      await app?.stop();
      await new Promise((resolve) => server?.close(resolve));
    });

    it("should count refused attempts, so nobody can hammer the policy endpoint", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const attempt = () =>
        gql(
          app.url,
          CreateConversationDocument,
          { input: { kind: "DIRECT", participantIds: [bob.id] } },
          alice.token,
        );
      for (let i = 0; i < 2; i++)
        expect((await attempt()).errors?.[0]?.message).toBe("not eligible");
      expectLimited(await attempt());
      expect(asked).toBe(2);
    });
  });
});
