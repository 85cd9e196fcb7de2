import WebSocket from "ws";
import {
  ConversationDocument,
  MeDocument,
  MessageAddedDocument,
  SendMessageDocument,
} from "../gql/graphql";
import {
  codeOf,
  Collector,
  gql,
  gqlOk,
  sourceOf,
  waitForChannel,
  wsClient,
} from "../helpers/client";
import { createDirect, sendText } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

const PROTOCOL = "graphql-transport-ws";
const WS_PAYLOAD = 4096;
const MAX_SUBSCRIPTIONS = 300;
const MAX_TOKENS = 1000;

interface RawSocket {
  socket: WebSocket;
  messages: Array<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

/** A bare WebSocket, to send what no graphql-ws client would. */
function raw(wsUrl: string, protocol: string | null = PROTOCOL): RawSocket {
  const socket = new WebSocket(wsUrl, protocol ?? undefined);
  const messages: Array<Record<string, any>> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  socket.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const opened = new Promise<void>((resolve) => socket.on("open", () => resolve()));
  return { socket, messages, closed, opened };
}

/** Waits until the socket received a message of the type (or closed), and returns it. */
async function received(s: RawSocket, type: string, id?: string) {
  const find = () => s.messages.find((m) => m.type === type && (id === undefined || m.id === id));
  for (let i = 0; !find() && s.socket.readyState === WebSocket.OPEN; i++) {
    if (i > 500) throw new Error(`no ${type} among ${JSON.stringify(s.messages)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return find();
}

describe("Abuse", () => {
  const env = testEnv({
    MAX_WS_PAYLOAD_BYTES: String(WS_PAYLOAD),
    MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBSCRIPTIONS),
    // Low enough that a document over it fits in one WebSocket frame.
    MAX_TOKENS: String(MAX_TOKENS),
    INTROSPECTION: "false",
  });
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;
  const init = () => JSON.stringify({ type: "connection_init", payload: { token: alice.token } });
  const health = () => new URL("/health", app.url).toString();

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    conversationId = (await createDirect(app.url, alice, bob, "abuse")).id;
  });
  afterEach(async () => {
    // Whatever happened, the server still answers, over HTTP and with GraphQL.
    const response = await fetch(health());
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect((await gqlOk(app.url, MeDocument, {}, alice.token)).me.id).toBe(alice.id);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe("oversized input", () => {
    it("should refuse a 10k-character text with BAD_USER_INPUT, however the characters are counted", async () => {
      for (const text of ["x".repeat(10_000), "\u{1F600}".repeat(5001), "\uD83D".repeat(10_000)]) {
        const result = await gql(
          app.url,
          SendMessageDocument,
          { input: { conversationId, text } },
          alice.token,
        );
        expect(codeOf(result)).toBe("BAD_USER_INPUT");
        expect(result.errors?.[0]?.extensions?.field).toBe("text");
      }
      // 5000 characters, emoji counting one each, are fine.
      const max = await gql(
        app.url,
        SendMessageDocument,
        { input: { conversationId, text: "\u{1F600}".repeat(5000) } },
        alice.token,
      );
      expect(max.errors).toBeUndefined();
    });

    it("should refuse 1,000 attachments with BAD_USER_INPUT", async () => {
      const attachments = Array.from({ length: 1000 }, (_, i) => ({
        mediaId: `m${i}`,
        url: `https://media.test/${i}.png`,
        mimeType: "image/png",
      }));
      const result = await gql(
        app.url,
        SendMessageDocument,
        { input: { conversationId, attachments } },
        alice.token,
      );
      expect(codeOf(result)).toBe("BAD_USER_INPUT");
      expect(result.errors?.[0]?.extensions?.field).toBe("attachments");
    });

    it("should answer a 10 MB body with 413 and a JSON GraphQL error", async () => {
      const body = JSON.stringify({
        query: sourceOf(SendMessageDocument),
        variables: { input: { conversationId, text: "x".repeat(10 * 1024 * 1024) } },
      });
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body,
      });
      expect(response.status).toBe(413);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({
        errors: [
          { message: "Request body over 1048576 bytes", extensions: { code: "BAD_REQUEST" } },
        ],
      });
    });

    it("should refuse a batched array body clearly", async () => {
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body: JSON.stringify(Array.from({ length: 50 }, () => ({ query: "{ me { id } }" }))),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: unknown };
      expect(body.errors).toEqual([
        { message: "Operation batching disabled.", extensions: { code: "BAD_REQUEST" } },
      ]);
    });

    it("should refuse a body that is not JSON with 400 and a JSON GraphQL error", async () => {
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"query": "{ me { id } }"`,
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
    });
  });

  describe("expensive queries", () => {
    const expectRefused = (
      result: Awaited<ReturnType<typeof gql>>,
      message: RegExp,
      code = "GRAPHQL_VALIDATION_FAILED",
    ) => {
      expect(result.status).toBe(400);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(result.errors?.map(() => code));
      expect(result.errors?.map((e) => e.message).join("\n")).toMatch(message);
    };

    it("should refuse a query nested deeper than MAX_QUERY_DEPTH", async () => {
      let selection = "id";
      for (let i = 0; i < 8; i++) selection = `lastMessage { conversation { ${selection} } }`;
      const query = `{ conversations { edges { node { ${selection} } } } }`;
      expectRefused(await gql(app.url, query, {}, alice.token), /depth limit of 12 exceeded/);
    });

    it("should refuse too many aliases", async () => {
      const query = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
      expectRefused(await gql(app.url, query, {}, alice.token), /Aliases limit of 15 exceeded/);
    });

    it("should refuse too many directives", async () => {
      // Without aliases: those count against MAX_ALIASES, `__typename` ones included.
      const fields = Array.from({ length: 51 }, () => `__typename @include(if: true)`);
      expectRefused(
        await gql(app.url, `{ ${fields.join(" ")} }`, {}, alice.token),
        /Directives limit of 50 exceeded/,
      );
    });

    it("should refuse a document over MAX_TOKENS as a syntax error (400), not a server error", async () => {
      const query = `{ ${"__typename ".repeat(6000)} }`;
      expectRefused(
        await gql(app.url, query, {}, alice.token),
        /more that 1000 tokens/,
        "GRAPHQL_PARSE_FAILED",
      );
    });

    it("should refuse a document over MAX_TOKENS over WebSocket too, keeping the socket", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(init());
      await received(s, "connection_ack");
      const query = `{ ${"a ".repeat(MAX_TOKENS + 500)}}`;
      expect(query.length).toBeLessThan(WS_PAYLOAD);
      s.socket.send(JSON.stringify({ type: "subscribe", id: "long", payload: { query } }));
      expect((await received(s, "error", "long"))?.payload).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/more that \d+ tokens/),
          extensions: { code: "GRAPHQL_PARSE_FAILED" },
        }),
      ]);
      s.socket.close(1000);
      expect((await s.closed).code).toBe(1000);
    });

    it("should apply the same limits over WebSocket, with a clear code", async () => {
      const ws = wsClient(app.wsUrl, alice.token);
      const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
      const sub = new Collector(ws.client, aliases);
      await sub.ended();
      const errors = sub.errors.flat() as Array<{ message: string; extensions: any }>;
      expect(errors.map((e) => e.extensions.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
      expect(errors[0].message).toMatch(/Aliases limit of 15 exceeded/);
      await ws.dispose();
    });
  });

  describe("introspection with INTROSPECTION=false", () => {
    const INTROSPECT = `{ __schema { queryType { name } } }`;

    it("should be refused over HTTP, with or without a token", async () => {
      for (const token of [null, alice.token]) {
        const result = await gql(app.url, INTROSPECT, {}, token);
        expect(result.status).toBe(400);
        expect(codeOf(result)).toBe("GRAPHQL_VALIDATION_FAILED");
        expect(result.data ?? null).toBeNull();
      }
      const type = await gql(app.url, `{ __type(name: "Query") { name } }`, {}, alice.token);
      expect(codeOf(type)).toBe("GRAPHQL_VALIDATION_FAILED");
      // __typename is not introspection.
      expect((await gqlOk(app.url, `{ __typename }`, {}, alice.token)).__typename).toBe("Query");
    });

    it("should be refused over WebSocket too", async () => {
      const ws = wsClient(app.wsUrl, alice.token);
      for (const query of [INTROSPECT, `{ __type(name: "Query") { name } }`]) {
        const sub = new Collector(ws.client, query);
        await sub.ended();
        expect(sub.values).toEqual([]);
        const codes = (sub.errors.flat() as Array<{ extensions: any }>).map(
          (e) => e.extensions.code,
        );
        expect(codes.length).toBeGreaterThan(0);
        expect(new Set(codes)).toEqual(new Set(["GRAPHQL_VALIDATION_FAILED"]));
      }
      await ws.dispose();
    });
  });

  describe("malformed graphql-ws frames", () => {
    it.each<[string, number, (s: RawSocket) => void]>([
      ["invalid JSON", 4400, (s) => s.socket.send("{not json")],
      ["an unknown message type", 4400, (s) => s.socket.send(JSON.stringify({ type: "bogus" }))],
      [
        "a subscribe without an id",
        4400,
        (s) =>
          s.socket.send(JSON.stringify({ type: "subscribe", payload: { query: "{ me { id } }" } })),
      ],
      ["a second connection_init", 4429, (s) => s.socket.send(init())],
      ["a frame over MAX_WS_PAYLOAD_BYTES", 1009, (s) => s.socket.send("x".repeat(WS_PAYLOAD + 1))],
    ])("should close the socket on %s with %i", async (_label, code, misbehave) => {
      // graphql-ws reports the oversized frame's socket error on the console; it is expected here.
      const quiet = jest.spyOn(console, "error").mockImplementation(() => {});
      try {
        const s = raw(app.wsUrl);
        await s.opened;
        s.socket.send(init());
        expect(await received(s, "connection_ack")).toBeDefined();
        misbehave(s);
        expect((await s.closed).code).toBe(code);
      } finally {
        quiet.mockRestore();
      }
    });

    it("should close a subscribe before connection_init with 4401", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(
        JSON.stringify({ type: "subscribe", id: "1", payload: { query: "{ me { id } }" } }),
      );
      expect(await s.closed).toEqual({ code: 4401, reason: "Unauthorized" });
      expect(s.messages).toEqual([]);
    });

    it("should refuse a socket without the graphql-transport-ws subprotocol with 4406", async () => {
      const s = raw(app.wsUrl, null);
      expect((await s.closed).code).toBe(4406);
    });

    it("should close a socket that never sends connection_init with 4408", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      expect(await s.closed).toEqual({ code: 4408, reason: "Connection initialisation timeout" });
    });
  });

  describe("subscribe floods", () => {
    it("should close the socket with 4409 when a subscription id is reused", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(init());
      await received(s, "connection_ack");
      const frame = JSON.stringify({
        type: "subscribe",
        id: "same",
        payload: { query: sourceOf(MessageAddedDocument), variables: { conversationId } },
      });
      for (let i = 0; i < 50; i++) s.socket.send(frame);
      expect(await s.closed).toEqual({ code: 4409, reason: "Subscriber for same already exists" });
    });

    it("should answer a subscribe that is not GraphQL with GRAPHQL_PARSE_FAILED and keep the socket", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(init());
      await received(s, "connection_ack");
      s.socket.send(
        JSON.stringify({ type: "subscribe", id: "bad", payload: { query: "subscription {" } }),
      );
      const error = await received(s, "error", "bad");
      expect(error?.payload).toEqual([
        expect.objectContaining({
          message: expect.stringContaining("Syntax Error"),
          extensions: { code: "GRAPHQL_PARSE_FAILED" },
        }),
      ]);
      s.socket.send(
        JSON.stringify({ type: "subscribe", id: "q", payload: { query: "{ me { id } }" } }),
      );
      expect((await received(s, "next", "q"))?.payload).toEqual({ data: { me: { id: alice.id } } });
      s.socket.close(1000);
      expect((await s.closed).code).toBe(1000);
    });

    it("should serve hundreds of subscriptions on one socket up to MAX_SUBSCRIPTIONS_PER_CONNECTION, then release them", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(init());
      await received(s, "connection_ack");
      const count = MAX_SUBSCRIPTIONS;
      const subscribe = (id: string, afterSeq?: number) =>
        s.socket.send(
          JSON.stringify({
            type: "subscribe",
            id,
            payload: {
              query: sourceOf(MessageAddedDocument),
              variables: { conversationId, afterSeq },
            },
          }),
        );
      for (let i = 0; i < count - 1; i++) subscribe(`s${i}`);
      // A query on the same socket answers in its turn: every subscription before it is set up.
      s.socket.send(
        JSON.stringify({ type: "subscribe", id: "q", payload: { query: "{ me { id } }" } }),
      );
      expect((await received(s, "next", "q"))?.payload).toEqual({ data: { me: { id: alice.id } } });
      // The last one the cap allows (resuming after the current seq, so it sees the next message
      // however soon it goes live), then one too many: refused, and the socket stays open.
      const { conversation } = await gqlOk(
        app.url,
        ConversationDocument,
        { id: conversationId },
        alice.token,
      );
      subscribe(`s${count - 1}`, conversation!.lastSeq);
      subscribe("one-too-many");
      const refused = await received(s, "error", "one-too-many");
      expect(refused?.payload).toEqual([
        expect.objectContaining({
          message: `At most ${MAX_SUBSCRIPTIONS} subscriptions per connection; complete one first`,
          extensions: { code: "BAD_USER_INPUT", limit: "MAX_SUBSCRIPTIONS_PER_CONNECTION" },
        }),
      ]);
      await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversationId}:message-added`);
      const sent = await sendText(app.url, bob, conversationId, "to every subscription");
      for (let i = 0; i < count; i++) {
        const next = await received(s, "next", `s${i}`);
        expect(next?.payload.data.messageAdded.id).toBe(sent.id);
      }
      const unsubscribed = (id: string) => JSON.stringify({ type: "complete", id });
      for (let i = 0; i < count; i++) s.socket.send(unsubscribed(`s${i}`));
      s.socket.close(1000);
      expect((await s.closed).code).toBe(1000);
      // The conversation still delivers to a fresh subscriber.
      const ws = wsClient(app.wsUrl, bob.token);
      const sub = new Collector(ws.client, MessageAddedDocument, {
        conversationId,
        afterSeq: sent.seq,
      });
      await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversationId}:message-added`);
      const later = await sendText(app.url, alice, conversationId, "still working");
      expect((await sub.take(1))[0].messageAdded.id).toBe(later.id);
      await ws.dispose();
    });
  });
});
