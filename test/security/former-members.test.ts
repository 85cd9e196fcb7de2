import { randomUUID } from "node:crypto";
import {
  AddParticipantsDocument,
  ConversationDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  MessagesFullDocument,
  RemoveParticipantDocument,
} from "../gql/graphql";
import { codeOf, gql, gqlOk, type GraphQLResponse } from "../helpers/client";
import { createDirect, createGroup, sendText, signIn } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

/**
 * What a member who was removed (carol) or who left (erin) can still reach of a group: nothing of
 * what happened after, and nothing of who is in it now. Dave joined after both of them.
 */

const SECRET_TEXT = "zebra-after-they-went";
const SEND = `mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { id seq text readBy { id displayName } }
}`;
const REPORT = `mutation($input: ReportInput!) {
  report(input: $input) {
    id reportedUser { id displayName } message { id text readBy { id displayName } }
  }
}`;

interface Case {
  query: string;
  variables: (former: Former) => Record<string, unknown>;
}

interface Former {
  user: TestUser;
  /** The message they sent with clientMessageId `c-1` while they were a member. */
  sent: { id: string };
}

describe("Former members", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let dave: TestUser;
  let moderator: TestUser;
  let group: { id: string };
  /** A DIRECT conversation of alice and bob that neither former member was ever in. */
  let other: { id: string };
  let bobsMessage: { id: string };
  const formers = {} as Record<"removed" | "left", Former>;

  const CASES: Record<string, Case> = {
    "Mutation.sendMessage retried with their clientMessageId": {
      query: SEND,
      variables: () => ({
        input: { conversationId: group.id, text: "again", clientMessageId: "c-1" },
      }),
    },
    "Mutation.sendMessage retried with their clientMessageId in a conversation they never were in":
      {
        query: SEND,
        variables: () => ({
          input: { conversationId: other.id, text: "again", clientMessageId: "c-1" },
        }),
      },
    "Mutation.sendMessage retried with their clientMessageId in an unknown conversation": {
      query: SEND,
      variables: () => ({
        input: { conversationId: randomUUID(), text: "again", clientMessageId: "c-1" },
      }),
    },
    "Mutation.report of a former co-member": {
      query: REPORT,
      variables: () => ({ input: { userId: bob.id, reason: "SPAM" } }),
    },
    "Mutation.report of a member who joined after they went": {
      query: REPORT,
      variables: () => ({ input: { userId: dave.id, reason: "SPAM" } }),
    },
    "Mutation.report repeating their open report of a former co-member": {
      query: REPORT,
      variables: () => ({ input: { userId: alice.id, reason: "SPAM" } }),
    },
    "Mutation.report repeating their open report of a message": {
      query: REPORT,
      variables: () => ({ input: { messageId: bobsMessage.id, reason: "SPAM" } }),
    },
    "Mutation.editMessage of their own message": {
      query: `mutation($id: ID!) { editMessage(id: $id, text: "edited") { id readBy { id } } }`,
      variables: (former) => ({ id: former.sent.id }),
    },
  };

  /** Nothing of the group after they went: not dave, not the new text, not who read what. */
  function expectNothingAfter(result: GraphQLResponse) {
    const text = JSON.stringify(result);
    for (const secret of [dave.id, SECRET_TEXT]) expect(text).not.toContain(secret);
  }

  beforeAll(async () => {
    app = await startTestApp(testEnv());
    const [carol, erin] = await Promise.all([testUser("carol"), testUser("erin")]);
    [alice, bob, dave] = await Promise.all([testUser("alice"), testUser("bob"), testUser("dave")]);
    moderator = await testUser("mod", { roles: ["moderator"] });
    await signIn(app.url, alice, bob, carol, erin, dave, moderator);
    group = await createGroup(app.url, alice, [bob, carol, erin], "former members");
    other = await createDirect(app.url, alice, bob, "never theirs");
    bobsMessage = await sendText(app.url, bob, group.id, "from bob");
    for (const [how, user] of [
      ["removed", carol],
      ["left", erin],
    ] as const) {
      const sent = await sendText(app.url, user, group.id, `from ${user.id}`, "c-1");
      formers[how] = { user, sent };
      // Open reports made while they were members.
      for (const input of [{ userId: alice.id }, { messageId: bobsMessage.id }]) {
        await gqlOk(app.url, REPORT, { input: { ...input, reason: "SPAM" } }, user.token);
      }
    }
    await gqlOk(
      app.url,
      RemoveParticipantDocument,
      { conversationId: group.id, userId: carol.id },
      alice.token,
    );
    await gqlOk(app.url, LeaveConversationDocument, { conversationId: group.id }, erin.token);
    await gqlOk(
      app.url,
      AddParticipantsDocument,
      { conversationId: group.id, userIds: [dave.id] },
      alice.token,
    );
    await sendText(app.url, dave, group.id, SECRET_TEXT);
    // Dave and bob have read everything, the former members' messages included.
    for (const user of [dave, bob]) {
      await gqlOk(app.url, MarkReadDocument, { conversationId: group.id }, user.token);
    }
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe.each([
    ["who was removed", "removed"],
    ["who left", "left"],
  ] as const)("a member %s", (_label, how) => {
    const former = () => formers[how];

    it.each(Object.keys(CASES))("should answer NOT_FOUND to %s", async (name) => {
      const { query, variables } = CASES[name];
      const result = await gql(app.url, query, variables(former()), former().user.token);
      expect({ name, code: codeOf(result) }).toEqual({ name, code: "NOT_FOUND" });
      expect(result.data).toBeNull();
      expect(result.errors).toHaveLength(1);
      expectNothingAfter(result);
    });

    it("should answer the retry exactly as a non-member's first send, and store nothing", async () => {
      const { user } = former();
      const retry = await gql(
        app.url,
        SEND,
        { input: { conversationId: group.id, text: "again", clientMessageId: "c-1" } },
        user.token,
      );
      const fresh = await gql(
        app.url,
        SEND,
        { input: { conversationId: group.id, text: "again", clientMessageId: "c-new" } },
        user.token,
      );
      expect({ ...retry, errors: retry.errors?.map((e) => e.extensions) }).toEqual({
        ...fresh,
        errors: fresh.errors?.map((e) => e.extensions),
      });
      expect(retry.errors?.[0]?.message).toBe(fresh.errors?.[0]?.message);
      const { conversation } = await gqlOk(
        app.url,
        ConversationDocument,
        { id: group.id },
        alice.token,
      );
      // bob, carol, erin, removed, left, added, dave's message: nothing since.
      expect(conversation!.lastSeq).toBe(7);
    });
  });

  describe("Message.readBy", () => {
    it("should list the readers to a current participant", async () => {
      const { messages } = await gqlOk(
        app.url,
        MessagesFullDocument,
        { conversationId: group.id, first: 1 },
        alice.token,
      );
      const { id, readBy } = messages.edges[0].node;
      // Dave has read it; alice has not, bob sent it, carol and erin are gone.
      expect({ id, readBy }).toEqual({ id: bobsMessage.id, readBy: [{ id: dave.id }] });
    });

    it("should list nobody to a viewer who is not a participant of the message's conversation", async () => {
      // A moderator sees a reported message wherever it is, but not who is in its conversation.
      const { reports } = await gqlOk(
        app.url,
        `{ reports(status: OPEN, first: 100) { edges { node { message { id text readBy { id } } } } } }`,
        {},
        moderator.token,
      );
      const reported = reports.edges
        .map((e: { node: { message: unknown } }) => e.node.message)
        .filter((m: { id: string } | null) => m?.id === bobsMessage.id);
      expect(reported.length).toBeGreaterThan(0);
      for (const message of reported) {
        expect(message).toEqual({ id: bobsMessage.id, text: "from bob", readBy: [] });
      }
    });
  });
});
