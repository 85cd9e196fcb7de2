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
import { query } from "../../helpers/database";
import { testDatabaseUrl } from "../../helpers/env";
import { createDirect, createGroup, messagesOf, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

describe("Mutation.editMessage", () => {
  const env = testEnv();
  const channel = channels(env.REDIS_PREFIX);
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
  });
  afterEach(async () => {
    await disposeAll(sockets);
  });
  afterAll(async () => {
    await app?.stop();
  });

  const edit = (user: TestUser, id: string, text: string) =>
    gql(app.url, EditMessageFullDocument, { id, text }, user.token);

  /** Makes a message look `minutes` old, as if it had been sent that long ago. */
  const age = (id: string, minutes: number) =>
    query(
      testDatabaseUrl(),
      `update message set created_at = now() - make_interval(mins => $2) where id = $1`,
      [id, minutes],
    );

  it("should let the sender change the text, set editedAt and publish messageUpdated", async () => {
    const conversation = await createDirect(app.url, alice, bob, "edit-ok");
    const sent = await sendText(app.url, alice, conversation.id, "helo");
    const ws = wsClient(app.wsUrl, bob.token);
    sockets.push(ws);
    const sub = new Collector(ws.client, MessageUpdatedFullDocument, {
      conversationId: conversation.id,
    });
    await waitForChannel(channel.messageUpdated(conversation.id));

    const result = await edit(alice, sent.id, "  hello  ");
    expect(result.errors).toBeUndefined();
    const edited = result.data!.editMessage;
    expect(edited).toMatchObject({ id: sent.id, seq: sent.seq, text: "hello", kind: "TEXT" });
    expect(edited.deletedAt).toBeNull();
    expect(new Date(edited.editedAt!).getTime()).toBeGreaterThanOrEqual(
      new Date(edited.createdAt).getTime(),
    );

    const [event] = await sub.take(1);
    expect(event.messageUpdated).toMatchObject({
      id: sent.id,
      seq: sent.seq,
      text: "hello",
      editedAt: edited.editedAt,
      sender: { id: alice.id },
    });
    const [stored] = await messagesOf(app.url, bob, conversation.id);
    expect(stored).toMatchObject({ id: sent.id, text: "hello", editedAt: edited.editedAt });
  });

  it("should refuse anyone but the sender with FORBIDDEN, the group's OWNER included", async () => {
    const carol = await testUser("carol");
    const group = await createGroup(app.url, alice, [bob, carol]);
    const sent = await sendText(app.url, bob, group.id, "mine");
    expectError(await edit(carol, sent.id, "theirs"), "FORBIDDEN");
    expectError(await edit(alice, sent.id, "the owner's"), "FORBIDDEN");
    const [stored] = await messagesOf(app.url, alice, group.id);
    expect(stored).toMatchObject({ text: "mine", editedAt: null });
  });

  it("should refuse someone outside the conversation with NOT_FOUND", async () => {
    const mallory = await testUser("mallory");
    const conversation = await createDirect(app.url, alice, bob, "edit-outsider");
    const sent = await sendText(app.url, alice, conversation.id, "private");
    expectError(await edit(mallory, sent.id, "hijacked"), "NOT_FOUND");
    expectError(await edit(mallory, "00000000-0000-4000-8000-000000000000", "x"), "NOT_FOUND");
  });

  it("should refuse messages that are not TEXT, and deleted ones, with BAD_USER_INPUT", async () => {
    const conversation = await createDirect(app.url, alice, bob, "edit-kinds");
    const image = await gqlOk(
      app.url,
      SendMessageFullDocument,
      {
        input: {
          conversationId: conversation.id,
          text: "a photo",
          attachments: [{ mediaId: "m1", url: "https://cdn.example/p.png", mimeType: "image/png" }],
        },
      },
      alice.token,
    );
    expect(image.sendMessage.kind).toBe("IMAGE");
    expectError(await edit(alice, image.sendMessage.id, "a caption"), "BAD_USER_INPUT", "id");

    const gone = await sendText(app.url, alice, conversation.id, "oops");
    await gqlOk(app.url, DeleteMessageFullDocument, { id: gone.id }, alice.token);
    expectError(await edit(alice, gone.id, "never mind"), "BAD_USER_INPUT", "id");
  });

  it("should refuse empty, blank and too long text with BAD_USER_INPUT", async () => {
    const conversation = await createDirect(app.url, alice, bob, "edit-text");
    const sent = await sendText(app.url, alice, conversation.id, "original");
    for (const text of ["", "   \n ", "x".repeat(5001)]) {
      expectError(await edit(alice, sent.id, text), "BAD_USER_INPUT", "text");
    }
    const longest = await edit(alice, sent.id, "y".repeat(5000));
    expect(longest.data?.editMessage.text).toHaveLength(5000);
  });

  it("should refuse an edit after the edit window with EDIT_WINDOW_EXPIRED", async () => {
    const conversation = await createDirect(app.url, alice, bob, "edit-window");
    const old = await sendText(app.url, alice, conversation.id, "from a while ago");
    const recent = await sendText(app.url, alice, conversation.id, "from just now");
    await age(old.id, 16);
    await age(recent.id, 14);

    expectError(await edit(alice, old.id, "too late"), "EDIT_WINDOW_EXPIRED");
    expect((await edit(alice, recent.id, "still in time")).data?.editMessage.text).toBe(
      "still in time",
    );
    const stored = await messagesOf(app.url, alice, conversation.id);
    expect(stored.map((m: any) => m.text)).toEqual(["from a while ago", "still in time"]);
  });

  describe("with MESSAGE_EDIT_WINDOW_MINUTES 0", () => {
    let strict: TestApp;
    beforeAll(async () => {
      strict = await startTestApp(testEnv({ MESSAGE_EDIT_WINDOW_MINUTES: "0" }));
    });
    afterAll(async () => {
      await strict?.stop();
    });

    it("should refuse every edit at once", async () => {
      const conversation = await createDirect(strict.url, alice, bob, "no-edits");
      const sent = await sendText(strict.url, alice, conversation.id, "final");
      expectError(
        await gql(
          strict.url,
          EditMessageFullDocument,
          { id: sent.id, text: "changed" },
          alice.token,
        ),
        "EDIT_WINDOW_EXPIRED",
      );
      // Deleting stays possible.
      expect(
        (await gql(strict.url, DeleteMessageFullDocument, { id: sent.id }, alice.token)).errors,
      ).toBeUndefined();
    });
  });
});
