import {
  ConversationDocument,
  MessageAddedDocument,
  SendMessageDocument,
  type SendMessageInput,
} from "../../gql/graphql";
import { codeOf, Collector, gql, gqlOk, waitForChannel, wsClient } from "../../helpers/client";
import { createDirect, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, uid, type TestUser } from "../../helpers/tokens";

const image = (i: number) => ({
  mediaId: `img-${i}`,
  url: `https://cdn.example.com/${i}.jpg`,
  mimeType: "image/jpeg",
});
const pdf = {
  mediaId: "doc-1",
  url: "https://cdn.example.com/doc.pdf",
  mimeType: "application/pdf",
};

describe("Mutation.sendMessage", () => {
  const env = testEnv();
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let conversationId: string;

  const send = (user: TestUser, input: Partial<SendMessageInput>) =>
    gql(app.url, SendMessageDocument, { input: { conversationId, ...input } }, user.token);
  const lastSeq = async (id = conversationId) =>
    (await gqlOk(app.url, ConversationDocument, { id }, alice.token)).conversation!.lastSeq;

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
  });
  beforeEach(async () => {
    // A conversation of its own for each test, so counts and seqs start at zero.
    conversationId = (await createDirect(app.url, alice, bob, uid("subject"))).id;
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("should return the stored message for a retry with the same clientMessageId, store it once and deliver it once", async () => {
    const ws = wsClient(app.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId });
    await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversationId}:message-added`);

    const first = await send(alice, { text: "hello", clientMessageId: "cm-1" });
    const retry = await send(alice, { text: "hello", clientMessageId: "cm-1" });
    const concurrent = await Promise.all(
      [1, 2, 3].map(() => send(alice, { text: "hello", clientMessageId: "cm-1" })),
    );
    expect(first.errors).toBeUndefined();
    for (const again of [retry, ...concurrent]) {
      expect(again.errors).toBeUndefined();
      expect(again.data!.sendMessage).toEqual(first.data!.sendMessage);
    }
    expect(first.data!.sendMessage).toMatchObject({ seq: 1, clientMessageId: "cm-1" });
    expect(await lastSeq()).toBe(1);

    // A later message proves the retries published nothing: it arrives right after the first.
    await sendText(app.url, alice, conversationId, "next");
    const received = await sub.take(2);
    expect(received.map((v) => [v.messageAdded.seq, v.messageAdded.text])).toEqual([
      [1, "hello"],
      [2, "next"],
    ]);
    expect(received[0].messageAdded.id).toBe(first.data!.sendMessage.id);
    expect(sub.values).toHaveLength(2);
    await ws.dispose();
  });

  it("should let another sender use the same clientMessageId", async () => {
    const mine = await send(alice, { text: "a", clientMessageId: "shared-id" });
    const theirs = await send(bob, { text: "b", clientMessageId: "shared-id" });
    expect(theirs.data!.sendMessage.id).not.toBe(mine.data!.sendMessage.id);
    expect(await lastSeq()).toBe(2);
  });

  it("should refuse a clientMessageId the sender used in another conversation with CONFLICT", async () => {
    await send(alice, { text: "here", clientMessageId: "cm-conflict" });
    const other = await createDirect(app.url, alice, bob, "elsewhere");
    const result = await gql(
      app.url,
      SendMessageDocument,
      { input: { conversationId: other.id, text: "there", clientMessageId: "cm-conflict" } },
      alice.token,
    );
    expect(codeOf(result)).toBe("CONFLICT");
    expect(await lastSeq(other.id)).toBe(0);
  });

  it("should refuse empty, whitespace-only and over-long text with BAD_USER_INPUT on text", async () => {
    for (const text of ["", "   \n\t ", "x".repeat(5001), null]) {
      const result = await send(alice, { text });
      expect({ length: text?.length, code: codeOf(result) }).toEqual({
        length: text?.length,
        code: "BAD_USER_INPUT",
      });
      expect(result.errors![0].extensions!.field).toBe("text");
    }
    expect(await lastSeq()).toBe(0);
  });

  it("should accept 5000 characters, and trim surrounding whitespace", async () => {
    const long = await send(alice, { text: "y".repeat(5000) });
    expect(long.errors).toBeUndefined();
    expect(long.data!.sendMessage.text).toHaveLength(5000);
    const padded = await send(alice, { text: `  ${"z".repeat(5000)}  \n` });
    expect(padded.data!.sendMessage.text).toBe("z".repeat(5000));
  });

  it("should refuse a sender who is not a participant with NOT_FOUND", async () => {
    const result = await send(mallory, { text: "let me in" });
    expect(codeOf(result)).toBe("NOT_FOUND");
    expect(result.data).toBeNull();
    expect(await lastSeq()).toBe(0);
  });

  it("should refuse a conversationId that is not a uuid with BAD_USER_INPUT", async () => {
    const result = await gql(
      app.url,
      SendMessageDocument,
      { input: { conversationId: "nope", text: "hi" } },
      alice.token,
    );
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
    expect(result.errors![0].extensions!.field).toBe("conversationId");
  });

  it("should make a message with only images an IMAGE, with any other file a FILE, text optional", async () => {
    const images = await send(alice, { attachments: [image(1), image(2)] });
    expect(images.errors).toBeUndefined();
    expect(images.data!.sendMessage).toMatchObject({
      kind: "IMAGE",
      text: null,
      attachments: [
        { mediaId: "img-1", url: "https://cdn.example.com/1.jpg", mimeType: "image/jpeg" },
        { mediaId: "img-2", url: "https://cdn.example.com/2.jpg", mimeType: "image/jpeg" },
      ],
    });

    const mixed = await send(alice, { text: "the contract", attachments: [image(3), pdf] });
    expect(mixed.data!.sendMessage).toMatchObject({ kind: "FILE", text: "the contract" });
    expect(mixed.data!.sendMessage.attachments).toHaveLength(2);

    const whitespace = await send(alice, { text: "  ", attachments: [pdf] });
    expect(whitespace.data!.sendMessage).toMatchObject({ kind: "FILE", text: null });

    const plain = await send(alice, { text: "just words", attachments: [] });
    expect(plain.data!.sendMessage).toMatchObject({ kind: "TEXT", attachments: [] });
  });

  it("should accept 10 attachments and refuse 11 with BAD_USER_INPUT", async () => {
    const ten = Array.from({ length: 10 }, (_, i) => image(i));
    expect((await send(alice, { attachments: ten })).data!.sendMessage.attachments).toHaveLength(
      10,
    );
    const result = await send(alice, { attachments: [...ten, image(10)] });
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
    expect(result.errors![0].extensions!.field).toBe("attachments");
    expect(await lastSeq()).toBe(1);
  });

  it("should refuse attachment URLs that are not https with BAD_USER_INPUT", async () => {
    for (const url of [
      "http://cdn.example.com/1.jpg",
      "ftp://cdn.example.com/1.jpg",
      "javascript:alert(1)",
      "not a url",
    ]) {
      const result = await send(alice, { attachments: [{ ...image(1), url }] });
      expect({ url, code: codeOf(result) }).toEqual({ url, code: "BAD_USER_INPUT" });
      expect(result.errors![0].extensions!.field).toBe("attachments[0].url");
    }
    expect(await lastSeq()).toBe(0);
  });
});
