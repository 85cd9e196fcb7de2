import {
  Collector,
  connected,
  gqlOk,
  subscriptionCodes,
  waitForChannel,
  wsClient,
} from "../helpers/client";
import { createDirect, createGroup, sendText } from "../helpers/operations";
import { testUser } from "../helpers/tokens";
import {
  SECRET_TEXT,
  alice,
  app,
  bob,
  busy,
  env,
  expectNothingOfTheirs,
  friend,
  mallory,
  schema,
  transient,
  useAuthorizationMatrix,
} from "../helpers/authorization-setup";
import { SUBSCRIPTIONS } from "./authorization-cases";

/** The matrix's subscriptions, without a conversation and after a removal. */

describe("Authorization matrix", () => {
  useAuthorizationMatrix();

  describe.each(Object.keys(SUBSCRIPTIONS))("%s", (name) => {
    const c = () => SUBSCRIPTIONS[name];

    it("should refuse a non-participant, or deliver nothing of the others' conversation", async () => {
      const { query, variables, expected } = c();
      const ws = await connected(app.wsUrl, mallory);
      const sub = new Collector(ws.client, query, variables?.() ?? {});
      try {
        if (typeof expected === "string") {
          await sub.ended();
          expect({ name, codes: subscriptionCodes(sub) }).toEqual({ name, codes: [expected] });
          expect(sub.values).toEqual([]);
          expectNothingOfTheirs(sub.errors);
        } else {
          await expected(sub, ws);
          expect(sub.errors).toEqual([]);
        }
        expectNothingOfTheirs(sub.values);
      } finally {
        sub.stop();
        await Promise.all([ws, ...transient.splice(0)].map((w) => w.dispose()));
      }
    });

    it("should close the socket with 4403 without a token", async () => {
      const { query, variables } = c();
      const ws = wsClient(app.wsUrl, null);
      const sub = new Collector(ws.client, query, variables?.() ?? {});
      expect((await ws.closed).code).toBe(4403);
      expect(sub.values).toEqual([]);
      await ws.dispose();
    });
  });

  describe("Subscription.messageAdded without conversationId", () => {
    it("should stream the viewer's conversations only", async () => {
      const ws = await connected(app.wsUrl, mallory);
      transient.push(ws);
      const sub = new Collector(ws.client, `subscription { messageAdded { conversationId text } }`);
      await waitForChannel(`${env.REDIS_PREFIX}user:${mallory.id}:membership`);
      const own = await createDirect(app.url, mallory, friend, "her own");
      await waitForChannel(`${env.REDIS_PREFIX}conversation:${own.id}:message-added`);
      await sendText(app.url, bob, busy.id, `${SECRET_TEXT} in busy`);
      await sendText(app.url, friend, own.id, "marker");
      const [first] = await sub.take(1);
      expect(first.messageAdded).toEqual({ conversationId: own.id, text: "marker" });
      expect(sub.values).toHaveLength(1);
      await Promise.all(transient.splice(0).map((w) => w.dispose()));
    });
  });

  describe("a member removed while subscribed", () => {
    const AFTER = "zebra-after-removal";
    /** Per subscription field: what carol subscribes to in the group she is then removed from. */
    const REMOVAL: Record<
      string,
      { query: string; variables: (id: string) => Record<string, unknown> }
    > = {
      "Subscription.conversationUpdated": {
        query: `subscription { conversationUpdated { id title } }`,
        variables: () => ({}),
      },
      "Subscription.messageAdded": {
        query: `subscription($id: ID) { messageAdded(conversationId: $id) { id text } }`,
        variables: (id) => ({ id }),
      },
      "Subscription.messageUpdated": {
        query: `subscription($id: ID) { messageUpdated(conversationId: $id) { id text } }`,
        variables: (id) => ({ id }),
      },
      "Subscription.presence": {
        query: `subscription($ids: [ID!]) { presence(userIds: $ids) { userId status } }`,
        variables: () => ({}),
      },
      "Subscription.readReceipt": {
        query: `subscription($id: ID) { readReceipt(conversationId: $id) { user { id } lastReadSeq } }`,
        variables: (id) => ({ id }),
      },
      "Subscription.typing": {
        query: `subscription($id: ID!) { typing(conversationId: $id) { isTyping user { id } } }`,
        variables: (id) => ({ id }),
      },
    };

    it("should have a removal case for every subscription field", () => {
      const fields = Object.keys(schema.getSubscriptionType()!.getFields()).map(
        (f) => `Subscription.${f}`,
      );
      expect(Object.keys(REMOVAL).sort()).toEqual(fields.sort());
    });

    it.each(Object.keys(REMOVAL))(
      "%s should deliver nothing of the conversation after the removal",
      async (name) => {
        const carol = await testUser("carol");
        const room = await createGroup(app.url, alice, [bob, carol], "removal");
        await sendText(app.url, alice, room.id, "before");
        transient.push(await connected(app.wsUrl, alice));
        const ws = await connected(app.wsUrl, carol);
        transient.push(ws);
        const sub = new Collector(ws.client, REMOVAL[name].query, REMOVAL[name].variables(room.id));
        await new Promise((r) => setTimeout(r, 300)); // listening, and past any first values
        await gqlOk(
          app.url,
          `mutation($c: ID!, $u: ID!) { removeParticipant(conversationId: $c, userId: $u) { id } }`,
          { c: room.id, u: carol.id },
          alice.token,
        );
        await new Promise((r) => setTimeout(r, 300));
        const before = sub.values.length;

        // Everything that would reach a member: a message, an edit, a read, typing, a role, presence.
        const message = await sendText(app.url, alice, room.id, AFTER);
        await gqlOk(
          app.url,
          `mutation($id: ID!, $t: String!) { editMessage(id: $id, text: $t) { id } }`,
          { id: message.id, t: `${AFTER} edited` },
          alice.token,
        );
        await gqlOk(
          app.url,
          `mutation($c: ID!) { markRead(conversationId: $c) { id } }`,
          { c: room.id },
          bob.token,
        );
        await gqlOk(
          app.url,
          `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`,
          { c: room.id },
          bob.token,
        );
        await gqlOk(
          app.url,
          `mutation($c: ID!, $u: ID!) { setParticipantRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`,
          { c: room.id, u: bob.id },
          alice.token,
        );
        transient.push(await connected(app.wsUrl, bob));
        await new Promise((r) => setTimeout(r, 500));

        const after = sub.values.slice(before);
        const text = JSON.stringify(after);
        expect({ name, after: text.includes(AFTER) || text.includes(message.id) }).toEqual({
          name,
          after: false,
        });
        if (name === "Subscription.presence") {
          // Alice and bob read OFFLINE to her now; bob's coming online is not for her.
          expect(after.every((v) => v.presence.status === "OFFLINE")).toBe(true);
        } else {
          expect({ name, after }).toEqual({ name, after: [] });
        }
        expect(sub.errors).toEqual([]);
        sub.stop();
        await Promise.all(transient.splice(0).map((w) => w.dispose()));
      },
    );
  });
});
