import {
  BlockUserDocument,
  CreateConversationDocument,
  LeaveConversationDocument,
  UnblockUserDocument,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createGroup } from "../../helpers/operations";
import { testUser, type TestUser } from "../../helpers/tokens";
import { blockingSuite } from "../../helpers/blocking-suite";

const BLOCKED_USERS = `{ blockedUsers { id displayName } }`;

describe("Blocking", () => {
  const { app, block, unblock, people } = blockingSuite();

  describe("Mutation.blockUser, Mutation.unblockUser and Query.blockedUsers", () => {
    it("should list the users the viewer blocked, newest first, and forget an unblocked one", async () => {
      const [alice, bob, carol] = await people();
      expect((await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers).toEqual([]);
      expect((await block(alice, bob)).blockUser).toBe(true);
      // Blocking twice is harmless.
      expect((await block(alice, bob)).blockUser).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
      await block(alice, carol);
      // Strangers to alice: their ids, never their names.
      expect((await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers).toEqual([
        { id: carol.id, displayName: null },
        { id: bob.id, displayName: null },
      ]);
      // The blocked user's own list is theirs alone.
      expect((await gqlOk(app.url, BLOCKED_USERS, {}, bob.token)).blockedUsers).toEqual([]);
      expect((await unblock(alice, carol)).unblockUser).toBe(true);
      expect((await unblock(alice, carol)).unblockUser).toBe(true);
      expect((await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers).toEqual([
        { id: bob.id, displayName: null },
      ]);
    });

    it("should name a blocked user only while they share a conversation with the viewer", async () => {
      const [alice, bob, carol] = await people();
      const group = await createGroup(app.url, alice, [bob, carol], "names");
      await block(alice, bob);
      await block(alice, carol);
      const list = async () =>
        (await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers.sort(
          (x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id),
        );
      expect(await list()).toEqual(
        [
          { id: bob.id, displayName: bob.id },
          { id: carol.id, displayName: carol.id },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      // Bob leaves: from then on he is a stranger to alice, named by nothing but his id.
      await gqlOk(app.url, LeaveConversationDocument, { conversationId: group.id }, bob.token);
      expect(await list()).toEqual(
        [
          { id: bob.id, displayName: null },
          { id: carol.id, displayName: carol.id },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
    });

    it("should answer an id nobody signed in with exactly as a known stranger, and hold the block once they do", async () => {
      const [alice, stranger] = await people();
      const newcomer = await testUser("newcomer");
      const answers = async (target: TestUser) => ({
        blocked: await gql(app.url, BlockUserDocument, { userId: target.id }, alice.token),
        again: await gql(app.url, BlockUserDocument, { userId: target.id }, alice.token),
        listed: (await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers[0],
        unblocked: await gql(app.url, UnblockUserDocument, { userId: target.id }, alice.token),
        reblocked: await gql(app.url, BlockUserDocument, { userId: target.id }, alice.token),
      });
      const known = await answers(stranger);
      const unknown = await answers(newcomer);
      expect(known).toMatchObject({
        blocked: { data: { blockUser: true } },
        listed: { id: stranger.id, displayName: null },
      });
      expect({ ...unknown, listed: { ...unknown.listed, id: stranger.id } }).toEqual(known);
      expect(unknown.listed).toEqual({ id: newcomer.id, displayName: null });
      // The newcomer signs in: the block stands, in both directions.
      const direct = await gql(
        app.url,
        CreateConversationDocument,
        { input: { kind: "DIRECT", participantIds: [alice.id] } },
        newcomer.token,
      );
      expect(codeOf(direct)).toBe("BLOCKED");
      const fromAlice = await gql(
        app.url,
        CreateConversationDocument,
        { input: { kind: "DIRECT", participantIds: [newcomer.id] } },
        alice.token,
      );
      expect(codeOf(fromAlice)).toBe("BLOCKED");
    });

    it("should refuse blocking yourself or a malformed id with BAD_USER_INPUT", async () => {
      const [alice] = await people();
      for (const [mutation, id] of [
        [BlockUserDocument, alice.id],
        [BlockUserDocument, "not a valid id"],
        [UnblockUserDocument, alice.id],
        [UnblockUserDocument, "not a valid id"],
      ] as const) {
        const result = await gql<Record<string, boolean>, { userId: string }>(
          app.url,
          mutation,
          { userId: id },
          alice.token,
        );
        expect({ mutation, id, code: codeOf(result) }).toEqual({
          mutation,
          id,
          code: "BAD_USER_INPUT",
        });
        expect(result.errors?.[0]?.extensions?.field).toBe("userId");
      }
      expect((await gqlOk(app.url, BLOCKED_USERS, {}, alice.token)).blockedUsers).toEqual([]);
    });
  });
});
