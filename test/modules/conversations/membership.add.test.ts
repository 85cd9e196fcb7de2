import {
  AddParticipantsDocument,
  ConversationUpdatedDocument,
  CreateConversationDocument,
  LeaveConversationDocument,
  MessageAddedFullDocument,
  SetParticipantRoleDocument,
} from "../../gql/graphql";
import { Collector, expectError, gql, gqlOk, waitForChannel } from "../../helpers/client";
import {
  addParticipants,
  conversationOf,
  createDirect,
  createGroup,
  roles,
  sendText,
  setRole,
} from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { membershipSuite } from "../../helpers/membership-suite";

const { channel, a, b, connect, users, remove, lastMessage } = membershipSuite();

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
