import {
  getOperationAST,
  isObjectType,
  Kind,
  parse,
  validate,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
import { getSchema } from "../../src/schema";
import {
  codeOf,
  Collector,
  connected,
  gql,
  gqlOk,
  subscriptionCodes,
  waitForChannel,
  wsClient,
  type GraphQLResponse,
  type WsClient,
} from "../helpers/client";
import { createDirect, createGroup, sendText, signIn } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

/**
 * Every root field, called by mallory, who is in neither of alice and bob's conversations, and
 * without a token. The table must name every field of the built schema: a field added later
 * without a case fails "should have a case for every root field".
 */

type Denied = "NOT_FOUND" | "FORBIDDEN" | "BAD_USER_INPUT";

interface RequestCase {
  query: string;
  variables?: () => Record<string, unknown>;
  /** A refusal, or (for fields about the viewer) a check that the answer shows nothing of theirs. */
  expected: Denied | ((result: GraphQLResponse) => Promise<void> | void);
}

interface SubscriptionCase {
  query: string;
  variables?: () => Record<string, unknown>;
  /** A refusal, or a check that nothing of theirs arrives while they are busy. */
  expected: Denied | ((sub: Collector, ws: WsClient) => Promise<void>);
}

const SECRET_TEXT = "zebra-secret-text";
const SECRET_TITLE = "zebra-secret-title";
const SECRET_SUBJECT = "zebra-secret-subject";
const CONVERSATIONS = `query($search: String) {
  conversations(search: $search) { edges { node { id title subject } } }
}`;

describe("Authorization matrix", () => {
  const env = testEnv();
  let app: TestApp;
  let schema: GraphQLSchema;
  let alice: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  /** The outsider, with a conversation of her own with friend. */
  let mallory: TestUser;
  let friend: TestUser;
  let group: { id: string };
  let direct: { id: string };
  /** Alice and bob's second group, where the viewer-scoped cases make things happen. */
  let busy: { id: string };
  let bobsMessage: { id: string };
  let alicesReport: string;
  let baseline: unknown;
  let malloryWs: WsClient;
  const open: WsClient[] = [];
  /** Connections of one case, closed when it ends (each user may hold only a few). */
  const transient: WsClient[] = [];

  /** What alice and bob see of their conversations; no case may change it. */
  const targetState = async () =>
    Promise.all(
      [group.id, direct.id].map(async (id) => {
        const seen = await gqlOk(
          app.url,
          `query($id: ID!) { conversation(id: $id) {
            id kind title subject lastSeq
            participants { role lastReadSeq user { id } }
            messages { edges { node { id seq text editedAt deletedAt } } }
          } }`,
          { id },
          alice.token,
        );
        return seen.conversation;
      }),
    );

  const QUERIES: Record<string, RequestCase> = {
    "Query.blockedUsers": {
      query: `{ blockedUsers { id } }`,
      // Alice blocked eve; mallory's list is her own.
      expected: (result) => expect(result.data).toEqual({ blockedUsers: [] }),
    },
    "Query.conversation": {
      query: `query($id: ID!) { conversation(id: $id) { id title participants { user { id } } } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Query.conversations": {
      query: CONVERSATIONS,
      expected: async (result) => {
        const ids = result.data!.conversations.edges.map((e: any) => e.node.id);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids).not.toContain(group.id);
        expect(ids).not.toContain(direct.id);
        for (const search of [SECRET_TITLE, SECRET_SUBJECT, alice.id, "zebra"]) {
          const found = await gqlOk(app.url, CONVERSATIONS, { search }, mallory.token);
          expect({ search, edges: found.conversations.edges }).toEqual({ search, edges: [] });
        }
      },
    },
    "Query.me": {
      query: `{ me { id displayName } }`,
      expected: (result) =>
        expect(result.data).toEqual({ me: { id: mallory.id, displayName: mallory.id } }),
    },
    "Query.messages": {
      query: `query($id: ID!) { messages(conversationId: $id) { edges { node { id text } } } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Query.presence": {
      query: `query($ids: [ID!]!) { presence(userIds: $ids) { userId status lastSeenAt } }`,
      variables: () => ({ ids: [alice.id, bob.id] }),
      expected: async (result) => {
        // Alice is online (bob sees it); mallory shares nothing with her and reads OFFLINE.
        expect(result.data!.presence).toEqual([
          { userId: alice.id, status: "OFFLINE", lastSeenAt: null },
          { userId: bob.id, status: "OFFLINE", lastSeenAt: null },
        ]);
        const forBob = await gqlOk(
          app.url,
          `query($ids: [ID!]!) { presence(userIds: $ids) { status } }`,
          { ids: [alice.id] },
          bob.token,
        );
        expect(forBob.presence).toEqual([{ status: "ONLINE" }]);
      },
    },
    "Query.reports": {
      query: `{ reports { edges { node { id message { text } } } } }`,
      expected: "FORBIDDEN",
    },
    "Query.searchMessages": {
      query: `query($q: String!, $id: ID) { searchMessages(query: $q, conversationId: $id) { edges { node { id text } } } }`,
      variables: () => ({ q: "zebra", id: group.id }),
      expected: "NOT_FOUND",
    },
    "Query.unreadTotal": {
      query: `{ unreadTotal }`,
      // Only friend's one message counts; alice and bob's conversations have several.
      expected: (result) => expect(result.data).toEqual({ unreadTotal: 1 }),
    },
    "Mutation.addParticipants": {
      query: `mutation($id: ID!, $users: [ID!]!) { addParticipants(conversationId: $id, userIds: $users) { id } }`,
      variables: () => ({ id: group.id, users: [mallory.id] }),
      expected: "NOT_FOUND",
    },
    "Mutation.blockUser": {
      query: `mutation($id: ID!) { blockUser(userId: $id) }`,
      variables: () => ({ id: bob.id }),
      // Her own block of bob: a Boolean, and nothing of alice and bob's changes (checked after).
      expected: async (result) => {
        expect(result.data).toEqual({ blockUser: true });
        await gqlOk(
          app.url,
          `mutation($id: ID!) { unblockUser(userId: $id) }`,
          { id: bob.id },
          mallory.token,
        );
      },
    },
    "Mutation.createConversation": {
      query: `mutation($input: CreateConversationInput!) {
        createConversation(input: $input) { id lastSeq lastMessage { text } participants { user { id } } }
      }`,
      variables: () => ({
        input: { kind: "DIRECT", participantIds: [bob.id], subject: SECRET_SUBJECT },
      }),
      // Same pair key shape, same subject: a new conversation of her own, never theirs.
      expected: async (result) => {
        const created = result.data!.createConversation;
        expect(created.id).not.toBe(direct.id);
        expect(created).toMatchObject({ lastSeq: 0, lastMessage: null });
        expect(created.participants.map((p: any) => p.user.id).sort()).toEqual(
          [mallory.id, bob.id].sort(),
        );
        // She leaves again, so the later cases still find her sharing nothing with bob.
        await gqlOk(
          app.url,
          `mutation($id: ID!) { leaveConversation(conversationId: $id) }`,
          { id: created.id },
          mallory.token,
        );
      },
    },
    "Mutation.deleteMessage": {
      query: `mutation($id: ID!) { deleteMessage(id: $id) { id text } }`,
      variables: () => ({ id: bobsMessage.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.editMessage": {
      query: `mutation($id: ID!, $text: String!) { editMessage(id: $id, text: $text) { id text } }`,
      variables: () => ({ id: bobsMessage.id, text: "pwned" }),
      expected: "NOT_FOUND",
    },
    "Mutation.leaveConversation": {
      query: `mutation($id: ID!) { leaveConversation(conversationId: $id) }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.markRead": {
      query: `mutation($id: ID!) { markRead(conversationId: $id) { id unreadCount } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.removeParticipant": {
      query: `mutation($id: ID!, $user: ID!) { removeParticipant(conversationId: $id, userId: $user) { id } }`,
      variables: () => ({ id: group.id, user: bob.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.report": {
      query: `mutation($input: ReportInput!) { report(input: $input) { id message { text } } }`,
      variables: () => ({ input: { messageId: bobsMessage.id, reason: "SPAM" } }),
      expected: "NOT_FOUND",
    },
    "Mutation.resolveReport": {
      query: `mutation($id: ID!) { resolveReport(id: $id, status: DISMISSED) { id status } }`,
      variables: () => ({ id: alicesReport }),
      expected: "FORBIDDEN",
    },
    "Mutation.sendMessage": {
      query: `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq } }`,
      variables: () => ({ input: { conversationId: group.id, text: "intrusion" } }),
      expected: "NOT_FOUND",
    },
    "Mutation.setParticipantRole": {
      query: `mutation($id: ID!, $user: ID!) { setParticipantRole(conversationId: $id, userId: $user, role: ADMIN) { id } }`,
      variables: () => ({ id: group.id, user: bob.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.setTyping": {
      query: `mutation($id: ID!) { setTyping(conversationId: $id, isTyping: true) }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Mutation.unblockUser": {
      query: `mutation($id: ID!) { unblockUser(userId: $id) }`,
      variables: () => ({ id: eve.id }),
      // Her unblock of eve leaves alice's block of eve alone.
      expected: async (result) => {
        expect(result.data).toEqual({ unblockUser: true });
        const aliceList = await gqlOk(app.url, `{ blockedUsers { id } }`, {}, alice.token);
        expect(aliceList.blockedUsers).toEqual([{ id: eve.id }]);
      },
    },
  };

  const SUBSCRIPTIONS: Record<string, SubscriptionCase> = {
    "Subscription.conversationUpdated": {
      query: `subscription { conversationUpdated { id title } }`,
      expected: async (sub) => {
        await waitForChannel(`${env.REDIS_PREFIX}user:${mallory.id}:conversation-updated`);
        // Their group changes, then one of her own is created: hers is the first thing she sees.
        const carol = await testUser("carol");
        await gqlOk(
          app.url,
          `mutation($id: ID!, $u: [ID!]!) { addParticipants(conversationId: $id, userIds: $u) { id } }`,
          { id: busy.id, u: [carol.id] },
          alice.token,
        );
        const own = await createGroup(app.url, mallory, [friend], "her own");
        const [first] = await sub.take(1);
        expect(first.conversationUpdated).toEqual({ id: own.id, title: "her own" });
      },
    },
    "Subscription.messageAdded": {
      query: `subscription($id: ID, $after: Int) { messageAdded(conversationId: $id, afterSeq: $after) { id text } }`,
      // With afterSeq, so a replay of stored messages would show too.
      variables: () => ({ id: group.id, after: 0 }),
      expected: "NOT_FOUND",
    },
    "Subscription.messageUpdated": {
      query: `subscription($id: ID) { messageUpdated(conversationId: $id) { id text } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Subscription.presence": {
      query: `subscription($ids: [ID!]) { presence(userIds: $ids) { userId status } }`,
      variables: () => ({ ids: [alice.id, bob.id, friend.id] }),
      expected: async (sub) => {
        await waitForChannel(`${env.REDIS_PREFIX}user:${friend.id}:presence`);
        // Bob comes online, then friend: friend's are the only changes she gets.
        transient.push(await connected(app.wsUrl, bob));
        transient.push(await connected(app.wsUrl, friend));
        // It starts with what Query.presence tells her: alice and bob hidden.
        const [, , , last] = await sub.take(4);
        expect(last.presence).toEqual({ userId: friend.id, status: "ONLINE" });
        const theirs = sub.values.filter((v) => v.presence.userId !== friend.id);
        expect(
          theirs.map((v) => v.presence).sort((x, y) => (x.userId < y.userId ? -1 : 1)),
        ).toEqual([alice.id, bob.id].sort().map((userId) => ({ userId, status: "OFFLINE" })));
      },
    },
    "Subscription.readReceipt": {
      query: `subscription($id: ID) { readReceipt(conversationId: $id) { conversationId lastReadSeq } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
    "Subscription.typing": {
      query: `subscription($id: ID!) { typing(conversationId: $id) { isTyping user { id } } }`,
      variables: () => ({ id: group.id }),
      expected: "NOT_FOUND",
    },
  };

  /** Nothing identifying their conversation may appear in what mallory gets. */
  function expectNothingOfTheirs(result: unknown) {
    const text = JSON.stringify(result);
    for (const secret of [SECRET_TEXT, SECRET_TITLE, group.id, direct.id, bobsMessage.id]) {
      expect(text).not.toContain(secret);
    }
  }

  beforeAll(async () => {
    [app, schema] = await Promise.all([startTestApp(env), getSchema()]);
    [alice, bob, eve, mallory, friend] = await Promise.all(
      ["alice", "bob", "eve", "mallory", "friend"].map((name) => testUser(name)),
    );
    await signIn(app.url, alice, bob, eve, mallory, friend);
    group = await createGroup(app.url, alice, [bob], SECRET_TITLE);
    direct = await createDirect(app.url, alice, bob, SECRET_SUBJECT);
    busy = await createGroup(app.url, alice, [bob], "busy");
    bobsMessage = await sendText(app.url, bob, group.id, `${SECRET_TEXT} one`);
    await sendText(app.url, alice, group.id, `${SECRET_TEXT} two`);
    await sendText(app.url, alice, direct.id, `${SECRET_TEXT} three`);
    const report = await gqlOk(
      app.url,
      `mutation($id: ID!) { report(input: { messageId: $id, reason: SPAM }) { id } }`,
      { id: bobsMessage.id },
      alice.token,
    );
    alicesReport = report.report.id;
    await gqlOk(
      app.url,
      `mutation($id: ID!) { blockUser(userId: $id) }`,
      { id: eve.id },
      alice.token,
    );
    const own = await createDirect(app.url, mallory, friend, "her own");
    await sendText(app.url, friend, own.id, "hello mallory");
    // Alice is online for the presence cases.
    open.push(await connected(app.wsUrl, alice));
    malloryWs = await connected(app.wsUrl, mallory);
    open.push(malloryWs);
    baseline = await targetState();
  });
  afterEach(async () => {
    // Whatever mallory tried, alice and bob's conversations are as they were.
    expect(await targetState()).toEqual(baseline);
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.dispose()));
    await app?.stop();
  });

  it("should have a case for every root field of the built schema, and none for a missing one", () => {
    const fields: string[] = [];
    for (const type of [
      schema.getQueryType(),
      schema.getMutationType(),
      schema.getSubscriptionType(),
    ]) {
      if (!type || !isObjectType(type)) continue;
      for (const name of Object.keys(type.getFields())) fields.push(`${type.name}.${name}`);
    }
    expect(fields.length).toBeGreaterThan(25);
    const covered = [...Object.keys(QUERIES), ...Object.keys(SUBSCRIPTIONS)];
    expect(fields.filter((f) => !covered.includes(f))).toEqual([]);
    expect(covered.filter((f) => !fields.includes(f))).toEqual([]);
  });

  it("should have each case call exactly its own field with a valid operation", () => {
    for (const [name, c] of [...Object.entries(QUERIES), ...Object.entries(SUBSCRIPTIONS)]) {
      const [typeName, field] = name.split(".");
      const document = parse(c.query);
      expect({ name, errors: validate(schema, document).map((e) => e.message) }).toEqual({
        name,
        errors: [],
      });
      const operation = getOperationAST(document) as OperationDefinitionNode;
      const rootType = { query: "Query", mutation: "Mutation", subscription: "Subscription" };
      expect(rootType[operation.operation]).toBe(typeName);
      const selected = operation.selectionSet.selections.map((s) =>
        s.kind === Kind.FIELD ? s.name.value : s.kind,
      );
      expect({ name, selected }).toEqual({ name, selected: [field] });
    }
  });

  describe.each(Object.keys(QUERIES))("%s", (name) => {
    const c = () => QUERIES[name];
    const field = name.split(".")[1];

    it("should refuse a non-participant, or reveal nothing of the others' conversation", async () => {
      const { query, variables, expected } = c();
      const result = await gql(app.url, query, variables?.() ?? {}, mallory.token);
      if (typeof expected === "string") {
        expect({ name, code: codeOf(result) }).toEqual({ name, code: expected });
        expect(result.data?.[field] ?? null).toBeNull();
        expect(result.errors).toHaveLength(1);
      } else {
        expect(result.errors).toBeUndefined();
        await expected(result);
      }
      expectNothingOfTheirs(result);
    });

    it("should refuse a non-participant the same way over WebSocket", async () => {
      const { query, variables, expected } = c();
      if (typeof expected !== "string") return;
      const sub = new Collector(malloryWs.client, query, variables?.() ?? {});
      await sub.ended();
      expect({ name, codes: subscriptionCodes(sub) }).toEqual({ name, codes: [expected] });
      expect(sub.values.every((v) => v[field] == null)).toBe(true);
      expectNothingOfTheirs(sub.values);
      expectNothingOfTheirs(sub.errors);
    });

    it("should answer UNAUTHENTICATED (401) without a token", async () => {
      const { query, variables } = c();
      const result = await gql(app.url, query, variables?.() ?? {});
      expect({ name, code: codeOf(result), status: result.status }).toEqual({
        name,
        code: "UNAUTHENTICATED",
        status: 401,
      });
      // A nullable field answers null, a non-null one nulls the whole data.
      expect(Object.values(result.data ?? {})).toEqual(result.data ? [null] : []);
      expectNothingOfTheirs(result);
    });
  });

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
