import {
  ConversationDocument,
  ConversationsDocument,
  ConversationUpdatedDocument,
  EditMessageFullDocument,
  MarkReadFullDocument,
  MessageAddedFullDocument,
  MessagesFullDocument,
  MessageUpdatedFullDocument,
  ReadReceiptDocument,
} from "../../gql/graphql";
import { Collector, expectError, gql, gqlOk, waitForChannel } from "../../helpers/client";
import {
  conversationOf,
  createDirect,
  createGroup,
  roles,
  sendText,
  setRole,
} from "../../helpers/operations";
import { membershipSuite } from "../../helpers/membership-suite";

const { channel, a, b, connect, users, remove, lastMessage } = membershipSuite();

describe("Mutation.removeParticipant", () => {
  it("should let the OWNER remove anyone and an ADMIN only MEMBERs", async () => {
    const [alice, bob, carol, dave, erin] = await users("alice", "bob", "carol", "dave", "erin");
    const group = await createGroup(a.url, alice, [bob, carol, dave, erin]);
    for (const admin of [bob, erin]) {
      expect((await setRole(a.url, alice, group.id, admin, "ADMIN")).errors).toBeUndefined();
    }

    expectError(await remove(bob, group.id, erin), "FORBIDDEN");
    expectError(await remove(bob, group.id, alice), "FORBIDDEN");
    expectError(await remove(dave, group.id, carol), "FORBIDDEN");
    expect((await remove(bob, group.id, carol)).errors).toBeUndefined();
    expect((await remove(alice, group.id, bob)).errors).toBeUndefined();

    const result = await remove(alice, group.id, erin);
    expect(roles(result.data!.removeParticipant)).toEqual({
      [alice.id]: "OWNER",
      [dave.id]: "MEMBER",
    });
    // Someone who is not (or no longer) a participant cannot be removed.
    expectError(await remove(alice, group.id, erin), "NOT_FOUND");
  });

  it("should refuse removing yourself with BAD_USER_INPUT", async () => {
    const [alice, bob] = await users("alice", "bob");
    const group = await createGroup(a.url, alice, [bob]);
    expectError(await remove(alice, group.id, alice), "BAD_USER_INPUT", "userId");
    expect(roles(await conversationOf(a.url, alice, group.id))[alice.id]).toBe("OWNER");
  });

  it("should write a PARTICIPANT_REMOVED SYSTEM message and tell the removed user with viewerRole null", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    await sendText(a.url, bob, group.id, "one");

    const carolInbox = new Collector(connect(b, carol), ConversationUpdatedDocument);
    const bobInbox = new Collector(connect(b, bob), ConversationUpdatedDocument);
    await Promise.all([
      waitForChannel(channel.conversationUpdated(carol.id)),
      waitForChannel(channel.conversationUpdated(bob.id)),
    ]);

    const result = await remove(alice, group.id, carol);
    expect(result.data!.removeParticipant.lastSeq).toBe(2);
    expect(await lastMessage(alice, group.id)).toMatchObject({
      seq: 2,
      kind: "SYSTEM",
      sender: null,
      systemEvent: {
        type: "PARTICIPANT_REMOVED",
        actor: { id: alice.id },
        users: [{ id: carol.id }],
      },
    });

    await carolInbox.until(() =>
      carolInbox.values.some((v) => v.conversationUpdated.id === group.id),
    );
    expect(carolInbox.values.find((v) => v.conversationUpdated.id === group.id)).toEqual({
      conversationUpdated: { id: group.id, viewerRole: null, participants: [] },
    });
    await bobInbox.until(() => bobInbox.values.some((v) => v.conversationUpdated.id === group.id));
    const forBob = bobInbox.values.find((v) => v.conversationUpdated.id === group.id)!;
    expect(forBob.conversationUpdated.viewerRole).toBe("MEMBER");
    expect(forBob.conversationUpdated.participants.map((p: any) => p.user.id).sort()).toEqual(
      [alice.id, bob.id].sort(),
    );
  });

  it("should deliver exactly one conversationUpdated to the removed member, and one to each who stays", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    const carolInbox = new Collector(connect(b, carol), ConversationUpdatedDocument);
    const bobInbox = new Collector(connect(a, bob), ConversationUpdatedDocument);
    await Promise.all([
      waitForChannel(channel.conversationUpdated(carol.id)),
      waitForChannel(channel.conversationUpdated(bob.id)),
    ]);

    expect((await remove(alice, group.id, carol)).errors).toBeUndefined();
    await carolInbox.take(1);
    await bobInbox.take(1);
    // Time for a duplicate to arrive, were one sent.
    await new Promise((r) => setTimeout(r, 300));
    expect(carolInbox.values).toEqual([
      { conversationUpdated: { id: group.id, viewerRole: null, participants: [] } },
    ]);
    expect(bobInbox.values).toHaveLength(1);
    expect(bobInbox.values[0].conversationUpdated.viewerRole).toBe("MEMBER");
  });

  it("should stop every open subscription of the removed member and hide the conversation from them", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    const marker = await createDirect(a.url, alice, carol, "marker");
    const first = await sendText(a.url, alice, group.id, "first");

    // Subscriptions without conversationId on instance a, with it on instance b: each instance
    // listens on the group's channels once, so two subscribers per channel means both listen.
    const onA = connect(a, carol);
    const onB = connect(b, carol);
    const addedAll = new Collector(onA, MessageAddedFullDocument, {});
    const updatedAll = new Collector(onA, MessageUpdatedFullDocument, {});
    const receiptsAll = new Collector(onA, ReadReceiptDocument, {});
    const addedOne = new Collector(onB, MessageAddedFullDocument, { conversationId: group.id });
    const updatedOne = new Collector(onB, MessageUpdatedFullDocument, { conversationId: group.id });
    const receiptsOne = new Collector(onB, ReadReceiptDocument, { conversationId: group.id });
    await Promise.all([
      waitForChannel(channel.messageAdded(group.id), 2),
      waitForChannel(channel.messageUpdated(group.id), 2),
      waitForChannel(channel.readReceipt(group.id), 2),
      waitForChannel(channel.messageAdded(marker.id)),
      waitForChannel(channel.messageUpdated(marker.id)),
      waitForChannel(channel.readReceipt(marker.id)),
    ]);

    // Everything flows while carol is a member.
    const live = await sendText(a.url, alice, group.id, "while carol is here");
    await addedAll.take(1);
    await addedOne.take(1);
    expect(addedAll.values[0].messageAdded.seq).toBe(live.seq);
    expect(addedOne.values[0].messageAdded.seq).toBe(live.seq);

    const removed = await remove(alice, group.id, carol);
    const removalSeq: number = removed.data!.removeParticipant.lastSeq;

    // After the removal: a message, an edit and a read receipt in the group ...
    await sendText(a.url, alice, group.id, "after carol left");
    await gqlOk(
      a.url,
      EditMessageFullDocument,
      { id: first.id, text: "first, edited" },
      alice.token,
    );
    await gqlOk(a.url, MarkReadFullDocument, { conversationId: group.id }, bob.token);
    // ... then a message, an edit and a receipt where carol still is.
    const mark = await sendText(a.url, alice, marker.id, "marker");
    await gqlOk(
      a.url,
      EditMessageFullDocument,
      { id: mark.id, text: "marker, edited" },
      alice.token,
    );
    await gqlOk(a.url, MarkReadFullDocument, { conversationId: marker.id }, carol.token);

    await addedAll.until(() => addedAll.values.some((v) => v.messageAdded.id === mark.id));
    await updatedAll.until(() => updatedAll.values.some((v) => v.messageUpdated.id === mark.id));
    await receiptsAll.until(() =>
      receiptsAll.values.some((v) => v.readReceipt.conversationId === marker.id),
    );
    // Subscriptions to the group alone end with the membership.
    await Promise.all([addedOne.ended(), updatedOne.ended(), receiptsOne.ended()]);

    for (const sub of [addedAll, addedOne]) {
      const fromGroup = sub.values.filter((v) => v.messageAdded.conversationId === group.id);
      expect(fromGroup.every((v) => v.messageAdded.seq <= removalSeq)).toBe(true);
    }
    expect(updatedAll.values.map((v) => v.messageUpdated.id)).toEqual([mark.id]);
    expect(updatedOne.values).toEqual([]);
    expect(receiptsAll.values.map((v) => v.readReceipt)).toMatchObject([
      { conversationId: marker.id, user: { id: carol.id } },
    ]);
    expect(receiptsOne.values).toEqual([]);

    expectError(await gql(a.url, ConversationDocument, { id: group.id }, carol.token), "NOT_FOUND");
    expectError(
      await gql(a.url, MessagesFullDocument, { conversationId: group.id }, carol.token),
      "NOT_FOUND",
    );
    const inbox = await gqlOk(a.url, ConversationsDocument, {}, carol.token);
    expect(inbox.conversations.edges.map((e: any) => e.node.id)).toEqual([marker.id]);
  });
});
