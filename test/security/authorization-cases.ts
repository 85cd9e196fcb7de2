import {
  Collector,
  connected,
  gqlOk,
  waitForChannel,
  type GraphQLResponse,
  type WsClient,
} from "../helpers/client";
import { createGroup } from "../helpers/operations";
import { testUser } from "../helpers/tokens";
import {
  SECRET_SUBJECT,
  SECRET_TITLE,
  alice,
  alicesReport,
  app,
  bob,
  bobsMessage,
  busy,
  direct,
  env,
  eve,
  friend,
  group,
  mallory,
  transient,
} from "../helpers/authorization-setup";

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

const CONVERSATIONS = `query($search: String) {
  conversations(search: $search) { edges { node { id title subject } } }
}`;

export const QUERIES: Record<string, RequestCase> = {
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

export const SUBSCRIPTIONS: Record<string, SubscriptionCase> = {
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
      expect(theirs.map((v) => v.presence).sort((x, y) => (x.userId < y.userId ? -1 : 1))).toEqual(
        [alice.id, bob.id].sort().map((userId) => ({ userId, status: "OFFLINE" })),
      );
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
