import {
  AddParticipantsDocument,
  ConversationDocument,
  ConversationsDocument,
  ConversationUpdatedDocument,
  CreateConversationDocument,
  EditMessageFullDocument,
  LeaveConversationDocument,
  MarkReadFullDocument,
  MessageAddedFullDocument,
  MessagesFullDocument,
  MessageUpdatedFullDocument,
  ReadReceiptDocument,
  RemoveParticipantDocument,
  SetParticipantRoleDocument,
} from "../../gql/graphql";
import { channels } from "../../helpers/channels";
import {
  Collector,
  disposeAll,
  expectError,
  gql,
  gqlOk,
  waitForChannel,
  wsClient,
  type WsClient,
} from "../../helpers/client";
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
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const env = testEnv();
const channel = channels(env.REDIS_PREFIX);
let a: TestApp;
let b: TestApp;
const sockets: WsClient[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
});
afterEach(async () => {
  await disposeAll(sockets);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

function connect(app: TestApp, user: TestUser) {
  const ws = wsClient(app.wsUrl, user.token);
  sockets.push(ws);
  return ws.client;
}

async function users(...prefixes: string[]) {
  return Promise.all(prefixes.map((p) => testUser(p)));
}

const remove = (by: TestUser, id: string, user: TestUser) =>
  gql(a.url, RemoveParticipantDocument, { conversationId: id, userId: user.id }, by.token);
const leave = (user: TestUser, id: string) =>
  gql(a.url, LeaveConversationDocument, { conversationId: id }, user.token);

/** The conversation's newest message, which a membership change makes a SYSTEM notice. */
async function lastMessage(user: TestUser, id: string) {
  const messages = await messagesOf(a.url, user, id);
  return messages[messages.length - 1];
}

describe("Mutation.addParticipants", () => {
  it("should let the OWNER and an ADMIN add members, and refuse a MEMBER with FORBIDDEN", async () => {
    const [alice, bob, carol, dave, erin] = await users("alice", "bob", "carol", "dave", "erin");
    const group = await createGroup(a.url, alice, [bob]);
    await gqlOk(
      a.url,
      SetParticipantRoleDocument,
      { conversationId: group.id, userId: bob.id, role: "ADMIN" },
      alice.token,
    );

    const byAdmin = await addParticipants(a.url, bob, group.id, [carol]);
    expect(byAdmin.errors).toBeUndefined();
    expectError(await addParticipants(a.url, carol, group.id, [dave]), "FORBIDDEN");
    const byOwner = await addParticipants(a.url, alice, group.id, [dave, erin]);
    expect(byOwner.errors).toBeUndefined();

    expect(roles(byOwner.data!.addParticipants)).toEqual({
      [alice.id]: "OWNER",
      [bob.id]: "ADMIN",
      [carol.id]: "MEMBER",
      [dave.id]: "MEMBER",
      [erin.id]: "MEMBER",
    });
    expect(byOwner.data!.addParticipants.viewerRole).toBe("OWNER");
  });

  it("should refuse membership changes in a DIRECT conversation with BAD_USER_INPUT", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const direct = await createDirect(a.url, alice, bob, "no-groups-here");
    expectError(await addParticipants(a.url, alice, direct.id, [carol]), "BAD_USER_INPUT");
    expectError(await remove(alice, direct.id, bob), "BAD_USER_INPUT");
    expectError(await setRole(a.url, alice, direct.id, bob, "ADMIN"), "BAD_USER_INPUT");
    expect(roles(await conversationOf(a.url, alice, direct.id))).toEqual({
      [alice.id]: "MEMBER",
      [bob.id]: "MEMBER",
    });
  });

  it("should refuse a non-participant with NOT_FOUND", async () => {
    const [alice, bob, mallory] = await users("alice", "bob", "mallory");
    const group = await createGroup(a.url, alice, [bob]);
    expectError(await addParticipants(a.url, mallory, group.id, [mallory]), "NOT_FOUND");
  });

  it("should write a PARTICIPANTS_ADDED SYSTEM message with the next seq and publish conversationUpdated to old and new members", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob]);
    await sendText(a.url, bob, group.id, "before carol");

    const bobInbox = new Collector(connect(b, bob), ConversationUpdatedDocument);
    const carolInbox = new Collector(connect(b, carol), ConversationUpdatedDocument);
    const bobMessages = new Collector(connect(b, bob), MessageAddedFullDocument, {
      conversationId: group.id,
    });
    await Promise.all([
      waitForChannel(channel.conversationUpdated(bob.id)),
      waitForChannel(channel.conversationUpdated(carol.id)),
      waitForChannel(channel.messageAdded(group.id)),
    ]);

    const added = await gqlOk(
      a.url,
      AddParticipantsDocument,
      { conversationId: group.id, userIds: [carol.id] },
      alice.token,
    );
    expect(added.addParticipants.lastSeq).toBe(2);

    const notice = {
      seq: 2,
      kind: "SYSTEM",
      sender: null,
      systemEvent: {
        type: "PARTICIPANTS_ADDED",
        actor: { id: alice.id },
        users: [{ id: carol.id }],
      },
    };
    expect(await lastMessage(carol, group.id)).toMatchObject(notice);
    const [live] = await bobMessages.take(1);
    expect(live.messageAdded).toMatchObject(notice);

    for (const inbox of [bobInbox, carolInbox]) {
      await inbox.until(() => inbox.values.some((v) => v.conversationUpdated.id === group.id));
      const event = inbox.values.find((v) => v.conversationUpdated.id === group.id)!;
      expect(event.conversationUpdated.viewerRole).toBe("MEMBER");
      expect(event.conversationUpdated.participants.map((p: any) => p.user.id).sort()).toEqual(
        [alice.id, bob.id, carol.id].sort(),
      );
    }
  });

  it("should deliver the group's new messages to a new member's open messageAdded subscription, from the SYSTEM message that added them", async () => {
    const [alice, bob, dave] = await users("alice", "bob", "dave");
    const group = await createGroup(a.url, alice, [bob]);
    await sendText(a.url, alice, group.id, "before dave 1");
    await sendText(a.url, bob, group.id, "before dave 2");

    const inbox = new Collector(connect(b, dave), MessageAddedFullDocument, {});
    await waitForChannel(channel.membership(dave.id));

    await gqlOk(
      a.url,
      AddParticipantsDocument,
      { conversationId: group.id, userIds: [dave.id] },
      alice.token,
    );
    // Read at once, before anything else is sent: nothing from before they joined counts.
    const joined = await conversationOf(a.url, dave, group.id);
    expect(joined.unreadCount).toBe(0);
    expect(joined.participants.find((p: any) => p.user.id === dave.id).lastReadSeq).toBe(2);

    await sendText(a.url, alice, group.id, "welcome dave");
    const events = (await inbox.take(2)).map((v) => v.messageAdded);
    expect(events).toMatchObject([
      {
        conversationId: group.id,
        seq: 3,
        kind: "SYSTEM",
        sender: null,
        systemEvent: {
          type: "PARTICIPANTS_ADDED",
          actor: { id: alice.id },
          users: [{ id: dave.id }],
        },
      },
      {
        conversationId: group.id,
        seq: 4,
        kind: "TEXT",
        text: "welcome dave",
        sender: { id: alice.id },
      },
    ]);
    expect((await conversationOf(a.url, dave, group.id)).unreadCount).toBe(1);
  });

  it("should take a removed member back with nothing unread and resume their open subscription from the re-adding", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    await sendText(a.url, bob, group.id, "one");
    await sendText(a.url, bob, group.id, "two");
    const inbox = new Collector(connect(b, carol), MessageAddedFullDocument, {});
    await Promise.all([
      waitForChannel(channel.membership(carol.id)),
      waitForChannel(channel.messageAdded(group.id)),
    ]);

    await remove(alice, group.id, carol); // seq 3
    const missed = await sendText(a.url, bob, group.id, "while carol is away"); // seq 4
    await addParticipants(a.url, alice, group.id, [carol]); // seq 5
    expect((await conversationOf(a.url, carol, group.id)).unreadCount).toBe(0);
    await sendText(a.url, bob, group.id, "welcome back"); // seq 6

    await inbox.until(() => inbox.values.some((v) => v.messageAdded.seq === 6));
    const seqs = inbox.values.map((v) => v.messageAdded.seq);
    expect(seqs).not.toContain(missed.seq);
    expect(seqs.slice(-2)).toEqual([5, 6]);
    expect(inbox.values.at(-2)!.messageAdded.systemEvent).toEqual({
      type: "PARTICIPANTS_ADDED",
      actor: { id: alice.id },
      users: [{ id: carol.id }],
    });
    expect((await conversationOf(a.url, carol, group.id)).unreadCount).toBe(1);
  });

  describe("with GROUP_MAX_MEMBERS 3", () => {
    let small: TestApp;
    beforeAll(async () => {
      small = await startTestApp(testEnv({ GROUP_MAX_MEMBERS: "3" }));
    });
    afterAll(async () => {
      await small?.stop();
    });

    it("should refuse to grow a group beyond the member limit with BAD_USER_INPUT", async () => {
      const [alice, bob, carol, dave, erin] = await users("alice", "bob", "carol", "dave", "erin");
      const tooMany = await gql(
        small.url,
        CreateConversationDocument,
        { input: { kind: "GROUP", participantIds: [bob.id, carol.id, dave.id], title: "Big" } },
        alice.token,
      );
      expectError(tooMany, "BAD_USER_INPUT", "participantIds");

      const group = await createGroup(small.url, alice, [bob]);
      expectError(
        await addParticipants(small.url, alice, group.id, [carol, dave]),
        "BAD_USER_INPUT",
      );
      expect((await addParticipants(small.url, alice, group.id, [carol])).errors).toBeUndefined();
      expectError(await addParticipants(small.url, alice, group.id, [dave]), "BAD_USER_INPUT");

      // Leaving frees a place.
      expect(
        (await gql(small.url, LeaveConversationDocument, { conversationId: group.id }, carol.token))
          .data,
      ).toEqual({
        leaveConversation: true,
      });
      expect((await addParticipants(small.url, alice, group.id, [erin])).errors).toBeUndefined();
      expect(Object.keys(roles(await conversationOf(small.url, alice, group.id))).sort()).toEqual(
        [alice.id, bob.id, erin.id].sort(),
      );
    });
  });
});

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

describe("Mutation.setParticipantRole", () => {
  it("should let the OWNER make a MEMBER ADMIN and back, each with a ROLE_CHANGED SYSTEM message", async () => {
    const [alice, bob] = await users("alice", "bob");
    const group = await createGroup(a.url, alice, [bob]);
    const inbox = new Collector(connect(b, bob), ConversationUpdatedDocument);
    await waitForChannel(channel.conversationUpdated(bob.id));
    const promoted = await setRole(a.url, alice, group.id, bob, "ADMIN");
    expect(roles(promoted.data!.setParticipantRole)[bob.id]).toBe("ADMIN");
    const [update] = await inbox.take(1);
    expect(update.conversationUpdated).toMatchObject({ id: group.id, viewerRole: "ADMIN" });
    // Unchanged: no second notice.
    await setRole(a.url, alice, group.id, bob, "ADMIN");
    const demoted = await setRole(a.url, alice, group.id, bob, "MEMBER");
    expect(roles(demoted.data!.setParticipantRole)[bob.id]).toBe("MEMBER");

    const notice = {
      kind: "SYSTEM",
      sender: null,
      systemEvent: { type: "ROLE_CHANGED", actor: { id: alice.id }, users: [{ id: bob.id }] },
    };
    expect(await messagesOf(a.url, bob, group.id)).toMatchObject([
      { seq: 1, ...notice },
      { seq: 2, ...notice },
    ]);
  });

  it("should refuse anyone but the OWNER with FORBIDDEN, and OWNER or self as a target with BAD_USER_INPUT", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob, carol]);
    await setRole(a.url, alice, group.id, bob, "ADMIN");
    expectError(await setRole(a.url, bob, group.id, carol, "ADMIN"), "FORBIDDEN");
    expectError(await setRole(a.url, carol, group.id, carol, "ADMIN"), "BAD_USER_INPUT");
    expectError(await setRole(a.url, alice, group.id, bob, "OWNER"), "BAD_USER_INPUT", "role");
    expectError(await setRole(a.url, alice, group.id, alice, "MEMBER"), "BAD_USER_INPUT");
    expect(roles(await conversationOf(a.url, alice, group.id))).toEqual({
      [alice.id]: "OWNER",
      [bob.id]: "ADMIN",
      [carol.id]: "MEMBER",
    });
  });
});

describe("SYSTEM messages", () => {
  it("should take their seq in line with ordinary messages", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(a.url, alice, [bob]);
    await sendText(a.url, alice, group.id, "m1");
    await addParticipants(a.url, alice, group.id, [carol]);
    await sendText(a.url, carol, group.id, "m3");
    await remove(alice, group.id, carol);
    await sendText(a.url, bob, group.id, "m5");
    const messages = await messagesOf(a.url, alice, group.id);
    expect(messages.map((m: any) => [m.seq, m.kind])).toEqual([
      [1, "TEXT"],
      [2, "SYSTEM"],
      [3, "TEXT"],
      [4, "SYSTEM"],
      [5, "TEXT"],
    ]);
    expect(messages[1].text).toEqual(expect.stringContaining(carol.id));
  });
});
