import {
  DeleteMessageFullDocument,
  EditMessageFullDocument,
  MessageUpdatedFullDocument,
  SendMessageFullDocument,
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
  setRole,
} from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

describe("Mutation.deleteMessage", () => {
  const env = testEnv();
  const channel = channels(env.REDIS_PREFIX);
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob, carol] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("carol"),
    ]);
  });
  afterEach(async () => {
    await disposeAll(sockets);
  });
  afterAll(async () => {
    await app?.stop();
  });

  const remove = (user: TestUser, id: string) =>
    gql(app.url, DeleteMessageFullDocument, { id }, user.token);

  it("should leave a tombstone that keeps its seq, once, with one messageUpdated event", async () => {
    const conversation = await createDirect(app.url, alice, bob, "tombstone");
    const photo = await gqlOk(
      app.url,
      SendMessageFullDocument,
      {
        input: {
          conversationId: conversation.id,
          text: "look",
          attachments: [
            { mediaId: "p1", url: "https://cdn.example/p1.jpg", mimeType: "image/jpeg" },
          ],
        },
      },
      alice.token,
    );
    const { id, seq, createdAt } = photo.sendMessage;
    const ws = wsClient(app.wsUrl, bob.token);
    sockets.push(ws);
    const sub = new Collector(ws.client, MessageUpdatedFullDocument, {
      conversationId: conversation.id,
    });
    await waitForChannel(channel.messageUpdated(conversation.id));

    const first = await remove(alice, id);
    expect(first.errors).toBeUndefined();
    const tombstone = first.data!.deleteMessage;
    expect(tombstone).toMatchObject({
      id,
      seq,
      createdAt,
      kind: "IMAGE",
      text: null,
      attachments: [],
      sender: { id: alice.id },
    });
    expect(tombstone.deletedAt).toEqual(expect.any(String));

    // Again: the same tombstone, and no second event.
    const second = await remove(alice, id);
    expect(second.data!.deleteMessage).toEqual(tombstone);

    const [stored] = await messagesOf(app.url, bob, conversation.id);
    expect(stored).toMatchObject({
      id,
      seq,
      text: null,
      attachments: [],
      deletedAt: tombstone.deletedAt,
    });
    const { lastMessage, lastSeq } = await conversationOf(app.url, bob, conversation.id);
    expect(lastSeq).toBe(seq);
    expect(lastMessage).toMatchObject({
      id,
      seq,
      text: null,
      attachments: [],
      deletedAt: tombstone.deletedAt,
    });

    // A marker: the next event on this subscription.
    const next = await sendText(app.url, alice, conversation.id, "marker");
    await gqlOk(
      app.url,
      EditMessageFullDocument,
      { id: next.id, text: "marker, edited" },
      alice.token,
    );
    const events = (await sub.take(2)).map((v) => v.messageUpdated);
    expect(events.map((m) => m.id)).toEqual([id, next.id]);
    expect(events[0]).toMatchObject({
      id,
      seq,
      text: null,
      attachments: [],
      deletedAt: tombstone.deletedAt,
    });
    expect(sub.values).toHaveLength(2);
  });

  it("should let the OWNER and an ADMIN of a GROUP delete a member's message, and refuse a MEMBER with FORBIDDEN", async () => {
    const dave = await testUser("dave");
    const group = await createGroup(app.url, alice, [bob, carol, dave]);
    await setRole(app.url, alice, group.id, bob, "ADMIN");
    const m1 = await sendText(app.url, carol, group.id, "by carol 1");
    const m2 = await sendText(app.url, carol, group.id, "by carol 2");
    const m3 = await sendText(app.url, dave, group.id, "by dave");

    expectError(await remove(dave, m1.id), "FORBIDDEN");
    expectError(await remove(carol, m3.id), "FORBIDDEN");
    expect((await remove(alice, m1.id)).data?.deleteMessage.deletedAt).toEqual(expect.any(String));
    expect((await remove(bob, m2.id)).data?.deleteMessage.deletedAt).toEqual(expect.any(String));
    expect((await remove(dave, m3.id)).data?.deleteMessage.deletedAt).toEqual(expect.any(String));

    const stored = await messagesOf(app.url, carol, group.id);
    expect(stored.filter((m: any) => m.kind !== "SYSTEM").map((m: any) => m.text)).toEqual([
      null,
      null,
      null,
    ]);
  });

  it("should refuse the other party of a DIRECT conversation with FORBIDDEN", async () => {
    const conversation = await createDirect(app.url, alice, bob, "direct-delete");
    const sent = await sendText(app.url, alice, conversation.id, "stays");
    expectError(await remove(bob, sent.id), "FORBIDDEN");
    const [stored] = await messagesOf(app.url, alice, conversation.id);
    expect(stored).toMatchObject({ text: "stays", deletedAt: null });
  });

  it("should refuse deleting a SYSTEM message with FORBIDDEN, even for the OWNER", async () => {
    const group = await createGroup(app.url, alice, [bob]);
    await addParticipants(app.url, alice, group.id, [carol]);
    const [notice] = await messagesOf(app.url, alice, group.id);
    expect(notice.kind).toBe("SYSTEM");
    expectError(await remove(alice, notice.id), "FORBIDDEN");
    const [stored] = await messagesOf(app.url, alice, group.id);
    expect(stored).toMatchObject({ id: notice.id, deletedAt: null, text: notice.text });
  });

  it("should refuse someone outside the conversation with NOT_FOUND", async () => {
    const mallory = await testUser("mallory");
    const conversation = await createDirect(app.url, alice, bob, "delete-outsider");
    const sent = await sendText(app.url, alice, conversation.id, "private");
    expectError(await remove(mallory, sent.id), "NOT_FOUND");
  });
});
