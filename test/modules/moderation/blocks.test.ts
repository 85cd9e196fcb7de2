import {
  AddParticipantsDocument,
  BlockUserDocument,
  ConversationDocument,
  CreateConversationDocument,
  LeaveConversationDocument,
  PresenceChangedDocument,
  PresenceDocument,
  SendMessageDocument,
  SetParticipantRoleDocument,
  SetTypingDocument,
  TypingDocument,
  UnblockUserDocument,
} from "../../gql/graphql";
import {
  codeOf,
  Collector,
  connected,
  gql,
  gqlOk,
  waitForChannel,
  type WsClient,
} from "../../helpers/client";
import { createDirect, createGroup, signIn } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const BLOCKED_USERS = `{ blockedUsers { id displayName } }`;

/** Who blocks whom: the same rules hold whichever of the two made the block. */
const DIRECTIONS = [
  ["the sender blocked the recipient", "sender"],
  ["the recipient blocked the sender", "recipient"],
] as const;

describe("Blocking", () => {
  const env = testEnv({ PRESENCE_GRACE_MS: "0" });
  let app: TestApp;
  const open: WsClient[] = [];

  const block = (by: TestUser, target: TestUser) =>
    gqlOk(app.url, BlockUserDocument, { userId: target.id }, by.token);
  const unblock = (by: TestUser, target: TestUser) =>
    gqlOk(app.url, UnblockUserDocument, { userId: target.id }, by.token);
  const send = (from: TestUser, conversationId: string, text: string) =>
    gql(app.url, SendMessageDocument, { input: { conversationId, text } }, from.token);
  const connect = async (user: TestUser) => {
    const ws = await connected(app.wsUrl, user);
    open.push(ws);
    return ws;
  };
  /** Three users who have all signed in: a pair and a third one, the marker. */
  const people = async () => {
    const users = await Promise.all([testUser("alice"), testUser("bob"), testUser("carol")]);
    await signIn(app.url, ...users);
    return users;
  };

  beforeAll(async () => {
    app = await startTestApp(env);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.dispose()));
  });
  afterAll(async () => {
    await app?.stop();
  });

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

  describe.each(DIRECTIONS)("when %s", (_label, blocker) => {
    /** sender and recipient in a DIRECT conversation, then the block in the given direction. */
    async function blockedPair(subject: string) {
      const [sender, recipient, carol] = await people();
      const direct = await createDirect(app.url, sender, recipient, subject);
      if (blocker === "sender") await block(sender, recipient);
      else await block(recipient, sender);
      return { sender, recipient, carol, direct };
    }

    it("should refuse sendMessage in their DIRECT conversation with BLOCKED both ways, and allow it again after unblocking", async () => {
      const { sender, recipient, direct } = await blockedPair("blocked-send");
      for (const from of [sender, recipient]) {
        const result = await send(from, direct.id, "are you there?");
        expect(codeOf(result)).toBe("BLOCKED");
        expect(result.data).toBeNull();
      }
      const history = await gqlOk(
        app.url,
        ConversationDocument,
        { id: direct.id },
        recipient.token,
      );
      expect(history.conversation!.lastSeq).toBe(0);

      if (blocker === "sender") await unblock(sender, recipient);
      else await unblock(recipient, sender);
      for (const from of [sender, recipient]) {
        const result = await send(from, direct.id, `hello from ${from.id}`);
        expect(result.errors).toBeUndefined();
      }
    });

    it("should refuse a new DIRECT conversation between them with BLOCKED, either one asking", async () => {
      const { sender, recipient } = await blockedPair("blocked-create");
      for (const [from, to] of [
        [sender, recipient],
        [recipient, sender],
      ]) {
        for (const subject of ["blocked-create", "another-subject", null]) {
          const result = await gql(
            app.url,
            CreateConversationDocument,
            { input: { kind: "DIRECT", participantIds: [to.id], subject } },
            from.token,
          );
          expect({ subject, code: codeOf(result) }).toEqual({ subject, code: "BLOCKED" });
        }
      }
    });

    it("should show each of them OFFLINE without lastSeenAt to the other through Query.presence", async () => {
      const { sender, recipient, carol } = await blockedPair("blocked-presence");
      await createGroup(app.url, carol, [sender, recipient], "also shared");
      const statuses = async (viewer: TestUser) =>
        (
          await gqlOk(
            app.url,
            PresenceDocument,
            { userIds: [sender.id, recipient.id] },
            viewer.token,
          )
        ).presence as Array<{ userId: string; status: string; lastSeenAt: string | null }>;
      const expectHidden = async () => {
        for (const [viewer, other] of [
          [sender, recipient],
          [recipient, sender],
        ]) {
          const { presence } = await gqlOk(
            app.url,
            PresenceDocument,
            { userIds: [other.id] },
            viewer.token,
          );
          expect(presence).toEqual([{ userId: other.id, status: "OFFLINE", lastSeenAt: null }]);
          const inbox = await gqlOk(
            app.url,
            `{ conversations { edges { node { participants { user { id presence { status lastSeenAt } } } } } } }`,
            {},
            viewer.token,
          );
          const seen = inbox.conversations.edges
            .flatMap((e: any) => e.node.participants)
            .filter((p: any) => p.user.id === other.id);
          expect(seen.length).toBe(2);
          for (const p of seen) {
            expect(p.user.presence).toEqual({ status: "OFFLINE", lastSeenAt: null });
          }
        }
      };

      // Both come and go, so a lastSeenAt exists: carol, who blocked no one, sees it.
      await Promise.all([connect(sender), connect(recipient)]);
      await Promise.all(open.splice(0).map((ws) => ws.dispose()));
      for (let i = 0; ; i++) {
        const seen = await statuses(carol);
        if (seen.every((p) => p.status === "OFFLINE" && p.lastSeenAt)) break;
        if (i > 200) throw new Error(`never went OFFLINE: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await expectHidden();

      // Online now: carol sees it, the pair still does not.
      await Promise.all([connect(sender), connect(recipient)]);
      expect((await statuses(carol)).map((p) => p.status)).toEqual(["ONLINE", "ONLINE"]);
      await expectHidden();
    });

    it.each([
      ["the sender", "sender"],
      ["the recipient", "recipient"],
    ])(
      "should stop an open presence subscription of %s from delivering the other's changes",
      async (_label, watching) => {
        const [sender, recipient, carol] = await people();
        await createDirect(app.url, sender, recipient, "presence-live");
        await createGroup(app.url, carol, [sender, recipient], "marker");
        const [viewer, other] = watching === "sender" ? [sender, recipient] : [recipient, sender];
        const channel = (id: string, topic: string) => `${env.REDIS_PREFIX}user:${id}:${topic}`;
        const ws = await connect(viewer);
        const sub = new Collector(ws.client, PresenceChangedDocument, {
          userIds: [other.id, carol.id],
        });
        await waitForChannel(channel(viewer.id, "blocks"));
        await waitForChannel(channel(other.id, "presence"));
        await waitForChannel(channel(carol.id, "presence"));
        // The current status of both comes first.
        await sub.take(2);
        sub.values.splice(0);

        if (blocker === "sender") await block(sender, recipient);
        else await block(recipient, sender);
        // The other comes online, then carol: her event is the marker, published after theirs.
        await connect(other);
        await connect(carol);
        const [event] = await sub.take(1);
        const { userId, status } = event.presence;
        expect({ userId, status }).toEqual({ userId: carol.id, status: "ONLINE" });
        expect(sub.values.filter((v) => v.presence.userId === other.id)).toEqual([]);
      },
    );

    it("should hide typing both ways", async () => {
      const { sender, recipient, carol } = await blockedPair("blocked-typing");
      const dave = await testUser("dave");
      const group = await createGroup(app.url, carol, [sender, recipient, dave], "typing");
      const [ws1, ws2, ws3] = await Promise.all([
        connect(sender),
        connect(recipient),
        connect(carol),
      ]);
      const forSender = new Collector(ws1.client, TypingDocument, { conversationId: group.id });
      const forRecipient = new Collector(ws2.client, TypingDocument, { conversationId: group.id });
      const forCarol = new Collector(ws3.client, TypingDocument, { conversationId: group.id });
      const all = [forSender, forRecipient, forCarol];
      // Dave's typing proves every subscription is live before the pair types.
      await gqlOk(
        app.url,
        SetTypingDocument,
        { conversationId: group.id, isTyping: true },
        dave.token,
      );
      await Promise.all(all.map((sub) => sub.take(1)));

      await gqlOk(
        app.url,
        SetTypingDocument,
        { conversationId: group.id, isTyping: true },
        sender.token,
      );
      await gqlOk(
        app.url,
        SetTypingDocument,
        { conversationId: group.id, isTyping: true },
        recipient.token,
      );
      // Carol's typing is the marker: published after theirs, so theirs would have come first.
      await gqlOk(
        app.url,
        SetTypingDocument,
        { conversationId: group.id, isTyping: true },
        carol.token,
      );

      const typists = (sub: Collector) =>
        sub.values.filter((v) => v.typing.isTyping).map((v) => v.typing.user.id);
      await forSender.until(() => typists(forSender).includes(carol.id));
      await forRecipient.until(() => typists(forRecipient).includes(carol.id));
      expect(typists(forSender)).toEqual([dave.id, carol.id]);
      expect(typists(forRecipient)).toEqual([dave.id, carol.id]);
      // Carol, who blocked no one, sees both of them.
      await forCarol.until(() => typists(forCarol).length >= 3);
      expect(typists(forCarol)).toEqual([dave.id, sender.id, recipient.id]);
    });
  });

  describe("Mutation.addParticipants", () => {
    it.each([
      ["the owner blocked the user", "owner"],
      ["the user blocked the owner", "user"],
    ])(
      "should refuse adding a user to a group when %s, whoever adds them, with BLOCKED",
      async (_label, who) => {
        const [owner, admin, user] = await people();
        const group = await createGroup(app.url, owner, [admin], "owned");
        await gqlOk(
          app.url,
          SetParticipantRoleDocument,
          { conversationId: group.id, userId: admin.id, role: "ADMIN" },
          owner.token,
        );
        if (who === "owner") await block(owner, user);
        else await block(user, owner);
        for (const adder of [owner, admin]) {
          const result = await gql(
            app.url,
            AddParticipantsDocument,
            { conversationId: group.id, userIds: [user.id] },
            adder.token,
          );
          expect(codeOf(result)).toBe("BLOCKED");
        }
        // A block between the user and the admin alone does not stop the owner.
        const other = await testUser("dave");
        await signIn(app.url, other);
        await block(other, admin);
        const added = await gqlOk(
          app.url,
          AddParticipantsDocument,
          { conversationId: group.id, userIds: [other.id] },
          owner.token,
        );
        const ids = added.addParticipants.participants.map((p: any) => p.user.id);
        expect(ids).toContain(other.id);
        expect(ids).not.toContain(user.id);

        if (who === "owner") await unblock(owner, user);
        else await unblock(user, owner);
        const after = await gqlOk(
          app.url,
          AddParticipantsDocument,
          { conversationId: group.id, userIds: [user.id] },
          admin.token,
        );
        expect(after.addParticipants.participants.map((p: any) => p.user.id)).toContain(user.id);
      },
    );
  });
});
