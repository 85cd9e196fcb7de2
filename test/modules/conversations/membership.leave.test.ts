import {
  ConversationDocument,
  ConversationUpdatedDocument,
  MessagesFullDocument,
} from "../../gql/graphql";
import { Collector, expectError, gql, waitForChannel } from "../../helpers/client";
import {
  addParticipants,
  conversationOf,
  createDirect,
  createGroup,
  messagesOf,
  roles,
  sendText,
  setRole,
} from "../../helpers/operations";
import { membershipSuite } from "../../helpers/membership-suite";

const { channel, a, b, connect, users, remove, leave } = membershipSuite();

describe("Mutation.leaveConversation", () => {
  it("should hand ownership to the oldest member when the OWNER leaves", async () => {
    const [alice, bob, carol, dave] = await users("alice", "bob", "carol", "dave");
    const group = await createGroup(a.url, alice, [carol]);
    // Bob joins after carol, dave after bob: carol is the oldest member.
    await addParticipants(a.url, alice, group.id, [bob]);
    await addParticipants(a.url, alice, group.id, [dave]);
    await setRole(a.url, alice, group.id, bob, "ADMIN");
    const before = (await conversationOf(a.url, carol, group.id)).lastSeq;

    const inbox = new Collector(connect(b, alice), ConversationUpdatedDocument);
    const heirInbox = new Collector(connect(b, carol), ConversationUpdatedDocument);
    await Promise.all([
      waitForChannel(channel.conversationUpdated(alice.id)),
      waitForChannel(channel.conversationUpdated(carol.id)),
    ]);
    expect((await leave(alice, group.id)).data).toEqual({ leaveConversation: true });

    const after = await conversationOf(a.url, carol, group.id);
    expect(roles(after)).toEqual({
      [carol.id]: "OWNER",
      [bob.id]: "ADMIN",
      [dave.id]: "MEMBER",
    });
    const messages = await messagesOf(a.url, carol, group.id);
    expect(messages.slice(-2)).toMatchObject([
      {
        seq: before + 1,
        kind: "SYSTEM",
        sender: null,
        systemEvent: {
          type: "PARTICIPANT_LEFT",
          actor: { id: alice.id },
          users: [{ id: alice.id }],
        },
      },
      {
        seq: before + 2,
        kind: "SYSTEM",
        sender: null,
        systemEvent: { type: "OWNER_CHANGED", actor: { id: alice.id }, users: [{ id: carol.id }] },
      },
    ]);

    await inbox.until(() => inbox.values.some((v) => v.conversationUpdated.id === group.id));
    expect(inbox.values.find((v) => v.conversationUpdated.id === group.id)).toEqual({
      conversationUpdated: { id: group.id, viewerRole: null, participants: [] },
    });
    await heirInbox.until(() =>
      heirInbox.values.some((v) => v.conversationUpdated.id === group.id),
    );
    const forHeir = heirInbox.values.find((v) => v.conversationUpdated.id === group.id)!;
    expect(forHeir.conversationUpdated.viewerRole).toBe("OWNER");
    expect(forHeir.conversationUpdated.participants).toHaveLength(3);
    expectError(await gql(a.url, ConversationDocument, { id: group.id }, alice.token), "NOT_FOUND");
    // The new owner has the owner's rights.
    expect((await remove(carol, group.id, bob)).errors).toBeUndefined();
  });

  it("should write only PARTICIPANT_LEFT when a MEMBER leaves", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    expect((await leave(bob, group.id)).data).toEqual({ leaveConversation: true });
    const messages = await messagesOf(a.url, alice, group.id);
    expect(messages).toMatchObject([
      {
        seq: 1,
        kind: "SYSTEM",
        systemEvent: { type: "PARTICIPANT_LEFT", actor: { id: bob.id }, users: [{ id: bob.id }] },
      },
    ]);
    expect(roles(await conversationOf(a.url, alice, group.id))).toEqual({
      [alice.id]: "OWNER",
      [carol.id]: "MEMBER",
    });
    expectError(await leave(bob, group.id), "NOT_FOUND");
  });

  it("should end a GROUP when its last member leaves", async () => {
    const [alice, bob] = await users("alice", "bob");
    const group = await createGroup(a.url, alice, [bob]);
    await sendText(a.url, alice, group.id, "anyone?");
    await leave(alice, group.id);
    expect(roles(await conversationOf(a.url, bob, group.id))).toEqual({ [bob.id]: "OWNER" });
    expect((await leave(bob, group.id)).data).toEqual({ leaveConversation: true });
    for (const user of [alice, bob]) {
      expectError(
        await gql(a.url, ConversationDocument, { id: group.id }, user.token),
        "NOT_FOUND",
      );
      expectError(
        await gql(a.url, MessagesFullDocument, { conversationId: group.id }, user.token),
        "NOT_FOUND",
      );
    }
  });

  it("should end a DIRECT conversation when both have left, so the pair starts a new one", async () => {
    const [alice, bob] = await users("alice", "bob");
    const first = await createDirect(a.url, alice, bob, "booking:1");
    await sendText(a.url, alice, first.id, "hi");

    // One of two leaving: asking again brings them back into the same conversation.
    await leave(alice, first.id);
    expect((await createDirect(a.url, alice, bob, "booking:1")).id).toBe(first.id);

    await leave(alice, first.id);
    await leave(bob, first.id);
    for (const user of [alice, bob]) {
      expectError(
        await gql(a.url, ConversationDocument, { id: first.id }, user.token),
        "NOT_FOUND",
      );
    }
    const second = await createDirect(a.url, bob, alice, "booking:1");
    expect(second.id).not.toBe(first.id);
    expect(second.lastSeq).toBe(0);
    expect(await messagesOf(a.url, alice, second.id)).toEqual([]);
  });
});
