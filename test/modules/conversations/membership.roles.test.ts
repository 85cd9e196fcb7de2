import { ConversationUpdatedDocument } from "../../gql/graphql";
import { Collector, expectError, waitForChannel } from "../../helpers/client";
import {
  addParticipants,
  conversationOf,
  createGroup,
  messagesOf,
  roles,
  sendText,
  setRole,
} from "../../helpers/operations";
import { membershipSuite } from "../../helpers/membership-suite";

const { channel, a, b, connect, users, remove } = membershipSuite();

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
