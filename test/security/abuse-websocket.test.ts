import { ConversationDocument, MessageAddedDocument } from "../gql/graphql";
import { Collector, gqlOk, sourceOf, waitForChannel, wsClient } from "../helpers/client";
import { sendText } from "../helpers/operations";
import {
  MAX_SUBSCRIPTIONS,
  WS_PAYLOAD,
  alice,
  app,
  bob,
  conversationId,
  env,
  init,
  raw,
  received,
  useAbuseApp,
  type RawSocket,
} from "../helpers/abuse-setup";

/** Abuse of the graphql-ws protocol: malformed frames and subscribe floods. */

describe("Abuse", () => {
  useAbuseApp();

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
