import {
  DeleteMessageFullDocument,
  MarkReadFullDocument,
  ReadReceiptDocument,
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
  sendText,
} from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const env = testEnv();
const channel = channels(env.REDIS_PREFIX);
let app: TestApp;
const sockets: WsClient[] = [];

beforeAll(async () => {
  app = await startTestApp(env);
});
afterEach(async () => {
  await disposeAll(sockets);
});
afterAll(async () => {
  await app?.stop();
});

const users = (...prefixes: string[]) => Promise.all(prefixes.map((p) => testUser(p)));

function markRead(user: TestUser, conversationId: string, upToSeq?: number) {
  return gql(app.url, MarkReadFullDocument, { conversationId, upToSeq }, user.token);
}

/** The viewer's own read position, as the participants list shows it. */
async function positionOf(user: TestUser, conversationId: string) {
  const conversation = await conversationOf(app.url, user, conversationId);
  const me = conversation.participants.find((p: any) => p.user.id === user.id);
  return { lastReadSeq: me.lastReadSeq as number, lastReadAt: me.lastReadAt as string | null };
}

async function sendMany(user: TestUser, conversationId: string, count: number) {
  const sent = [];
  for (let i = 0; i < count; i++) sent.push(await sendText(app.url, user, conversationId, `n${i}`));
  return sent;
}

const unread = async (user: TestUser, id: string): Promise<number> =>
  (await conversationOf(app.url, user, id)).unreadCount;
const unreadTotal = async (user: TestUser): Promise<number> =>
  (await gqlOk(app.url, `{ unreadTotal }`, {}, user.token)).unreadTotal;

describe("Mutation.markRead", () => {
  it("should move the read position forward only", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "forward");
    await sendMany(bob, conversation.id, 6);
    expect(await positionOf(alice, conversation.id)).toEqual({ lastReadSeq: 0, lastReadAt: null });

    const at5 = await markRead(alice, conversation.id, 5);
    expect(at5.errors).toBeUndefined();
    expect(at5.data!.markRead.unreadCount).toBe(1);
    const after5 = await positionOf(alice, conversation.id);
    expect(after5.lastReadSeq).toBe(5);
    expect(after5.lastReadAt).toEqual(expect.any(String));

    expect((await markRead(alice, conversation.id, 3)).data!.markRead.unreadCount).toBe(1);
    // Not moved: neither the position nor its time.
    expect(await positionOf(alice, conversation.id)).toEqual(after5);

    expect((await markRead(alice, conversation.id)).data!.markRead.unreadCount).toBe(0);
    expect((await positionOf(alice, conversation.id)).lastReadSeq).toBe(6);
  });

  it("should clamp upToSeq beyond the newest message to lastSeq", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "clamp");
    await sendMany(bob, conversation.id, 2);
    expect((await markRead(alice, conversation.id, 99)).errors).toBeUndefined();
    expect((await positionOf(alice, conversation.id)).lastReadSeq).toBe(2);
    // The next message is unread: the position did not run ahead of it.
    await sendText(app.url, bob, conversation.id, "third");
    expect(await unread(alice, conversation.id)).toBe(1);
  });

  it("should refuse a negative upToSeq with BAD_USER_INPUT and a stranger with NOT_FOUND", async () => {
    const [alice, bob, mallory] = await users("alice", "bob", "mallory");
    const conversation = await createDirect(app.url, alice, bob, "refusals");
    await sendText(app.url, bob, conversation.id, "hi");
    expectError(await markRead(alice, conversation.id, -1), "BAD_USER_INPUT", "upToSeq");
    expectError(await markRead(mallory, conversation.id), "NOT_FOUND");
    expectError(await markRead(mallory, conversation.id, 1), "NOT_FOUND");
    expect((await positionOf(alice, conversation.id)).lastReadSeq).toBe(0);
  });
});

describe("Conversation.unreadCount", () => {
  it("should count others' undeleted, non-SYSTEM messages after the viewer's read position", async () => {
    const [alice, bob, carol, dave] = await users("alice", "bob", "carol", "dave");
    const group = await createGroup(app.url, alice, [bob, carol]);
    expect(await unread(alice, group.id)).toBe(0);

    const fromBob = await sendMany(bob, group.id, 3); // seq 1-3
    expect(await unread(alice, group.id)).toBe(3);
    expect(await unread(bob, group.id)).toBe(0);

    // Sending moves the sender's own read position to their message.
    await sendText(app.url, alice, group.id, "mine"); // seq 4
    expect(await unread(alice, group.id)).toBe(0);
    expect((await positionOf(alice, group.id)).lastReadSeq).toBe(4);
    expect(await unread(carol, group.id)).toBe(4);

    await sendMany(bob, group.id, 2); // seq 5-6
    await sendText(app.url, carol, group.id, "carol"); // seq 7
    expect(await unread(alice, group.id)).toBe(3);

    await markRead(alice, group.id, 5);
    expect(await unread(alice, group.id)).toBe(2);

    // A SYSTEM notice (dave added, seq 8) is not unread.
    await addParticipants(app.url, alice, group.id, [dave]);
    expect(await unread(alice, group.id)).toBe(2);
    expect(await unread(bob, group.id)).toBe(1);

    // Deleting an unread message takes it off the count; a read one changes nothing.
    const six = (await messagesOf(app.url, alice, group.id)).find((m: any) => m.seq === 6);
    await gqlOk(app.url, DeleteMessageFullDocument, { id: six.id }, bob.token);
    expect(await unread(alice, group.id)).toBe(1);
    await gqlOk(app.url, DeleteMessageFullDocument, { id: fromBob[0].id }, bob.token);
    expect(await unread(alice, group.id)).toBe(1);
    expect(await unread(bob, group.id)).toBe(1);
  });

  it("should be summed by Query.unreadTotal", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const one = await createDirect(app.url, alice, bob, "total-1");
    const two = await createGroup(app.url, carol, [alice, bob]);
    expect(await unreadTotal(alice)).toBe(0);

    await sendMany(bob, one.id, 2);
    await sendMany(carol, two.id, 3);
    await sendText(app.url, alice, two.id, "not mine to count");
    await sendText(app.url, bob, two.id, "after alice");
    expect(await unread(alice, one.id)).toBe(2);
    expect(await unread(alice, two.id)).toBe(1);
    expect(await unreadTotal(alice)).toBe(3);
    expect(await unreadTotal(bob)).toBe(0);
    expect(await unreadTotal(carol)).toBe(2);

    await markRead(alice, one.id);
    expect(await unreadTotal(alice)).toBe(1);
  });
});

describe("Message.readBy", () => {
  it("should list the other participants whose read position reached the message", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(app.url, alice, [bob, carol]);
    await sendText(app.url, alice, group.id, "one"); // seq 1
    await sendText(app.url, alice, group.id, "two"); // seq 2

    const readers = async () =>
      (await messagesOf(app.url, alice, group.id)).map((m: any) =>
        m.readBy.map((u: { id: string }) => u.id).sort(),
      );
    expect(await readers()).toEqual([[], []]);

    await markRead(bob, group.id, 1);
    await markRead(carol, group.id, 2);
    expect(await readers()).toEqual([[bob.id, carol.id].sort(), [carol.id]]);

    // Bob's own message moves his position; alice has not read it, and the sender never counts.
    await sendText(app.url, bob, group.id, "three"); // seq 3
    expect(await readers()).toEqual([[bob.id, carol.id].sort(), [bob.id, carol.id].sort(), []]);
    await markRead(alice, group.id);
    expect(await readers()).toEqual([
      [bob.id, carol.id].sort(),
      [bob.id, carol.id].sort(),
      [alice.id],
    ]);
  });
});

describe("Subscription.readReceipt", () => {
  it("should deliver others' receipts in one conversation, and nothing when the position did not move", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "receipts-one");
    await sendMany(alice, conversation.id, 3);
    const ws = wsClient(app.wsUrl, alice.token);
    sockets.push(ws);
    const sub = new Collector(ws.client, ReadReceiptDocument, { conversationId: conversation.id });
    await waitForChannel(channel.readReceipt(conversation.id));

    await markRead(bob, conversation.id, 2);
    await markRead(bob, conversation.id, 2); // no move
    await markRead(bob, conversation.id, 1); // no move
    await markRead(bob, conversation.id, 3);
    await markRead(bob, conversation.id, 50); // already at the newest

    // The marker: the next receipt after those.
    await sendText(app.url, alice, conversation.id, "four");
    await markRead(bob, conversation.id);

    const receipts = (await sub.take(3)).map((v) => v.readReceipt);
    expect(receipts).toMatchObject([
      { conversationId: conversation.id, user: { id: bob.id }, lastReadSeq: 2 },
      { conversationId: conversation.id, user: { id: bob.id }, lastReadSeq: 3 },
      { conversationId: conversation.id, user: { id: bob.id }, lastReadSeq: 4 },
    ]);
    const { lastReadAt } = await positionOf(bob, conversation.id);
    expect(receipts[2].readAt).toBe(lastReadAt);
    expect(sub.values).toHaveLength(3);
  });

  it("should deliver receipts from every conversation without conversationId, the viewer's own included", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const one = await createDirect(app.url, alice, bob, "receipts-all");
    const two = await createGroup(app.url, carol, [bob]);
    await sendText(app.url, alice, one.id, "for bob");
    await sendText(app.url, bob, two.id, "for carol");

    const ws = wsClient(app.wsUrl, bob.token);
    sockets.push(ws);
    const sub = new Collector(ws.client, ReadReceiptDocument, {});
    await Promise.all([
      waitForChannel(channel.readReceipt(one.id)),
      waitForChannel(channel.readReceipt(two.id)),
    ]);

    await markRead(bob, one.id); // bob's own, for his other devices
    await markRead(carol, two.id);
    await markRead(carol, two.id); // no move

    const receipts = (await sub.take(2)).map((v) => v.readReceipt);
    expect(receipts).toMatchObject([
      { conversationId: one.id, user: { id: bob.id }, lastReadSeq: 1 },
      { conversationId: two.id, user: { id: carol.id }, lastReadSeq: 1 },
    ]);
    for (const receipt of receipts) expect(Date.parse(receipt.readAt)).not.toBeNaN();

    // The marker: the repeat above produced nothing.
    await sendText(app.url, alice, one.id, "again");
    await markRead(bob, one.id);
    await sub.take(3);
    expect(sub.values.map((v) => v.readReceipt.lastReadSeq)).toEqual([1, 1, 2]);
  });
});
