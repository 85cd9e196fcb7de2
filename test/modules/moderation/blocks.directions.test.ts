import {
  ConversationDocument,
  CreateConversationDocument,
  PresenceChangedDocument,
  PresenceDocument,
  SetTypingDocument,
  TypingDocument,
} from "../../gql/graphql";
import { codeOf, Collector, gql, gqlOk, waitForChannel } from "../../helpers/client";
import { createDirect, createGroup } from "../../helpers/operations";
import { testUser, type TestUser } from "../../helpers/tokens";
import { blockingSuite } from "../../helpers/blocking-suite";

/** Who blocks whom: the same rules hold whichever of the two made the block. */
const DIRECTIONS = [
  ["the sender blocked the recipient", "sender"],
  ["the recipient blocked the sender", "recipient"],
] as const;

describe("Blocking", () => {
  const { env, app, open, block, unblock, send, connect, people } = blockingSuite();

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
});
