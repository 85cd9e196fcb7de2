import {
  MessageAddedFullDocument,
  SendMessageFullDocument,
  type AttachmentInput,
} from "../../gql/graphql";
import { channels } from "../../helpers/channels";
import {
  Collector,
  disposeAll,
  expectError,
  gql,
  waitForChannel,
  wsClient,
  type WsClient,
} from "../../helpers/client";
import { conversationOf, createDirect, messagesOf } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

describe("Mutation.sendMessage with attachments", () => {
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

  const image = (n: number) => ({
    mediaId: `img-${n}`,
    url: `https://cdn.example/img-${n}.png`,
    mimeType: "image/png",
    name: `img-${n}.png`,
    size: 1000 + n,
    width: 640,
    height: 480,
  });
  const pdf = {
    mediaId: "doc-1",
    url: "https://cdn.example/doc-1.pdf",
    mimeType: "application/pdf",
    name: "contract.pdf",
    size: 52_000,
    width: null,
    height: null,
  };

  const send = (conversationId: string, text: string | null, attachments?: AttachmentInput[]) =>
    gql(
      app.url,
      SendMessageFullDocument,
      { input: { conversationId, text, attachments } },
      alice.token,
    );

  it("should derive IMAGE and FILE from the attachments and return them from queries and messageAdded", async () => {
    const conversation = await createDirect(app.url, alice, bob, "attachments-kinds");
    const ws = wsClient(app.wsUrl, bob.token);
    sockets.push(ws);
    const sub = new Collector(ws.client, MessageAddedFullDocument, {
      conversationId: conversation.id,
    });
    await waitForChannel(channel.messageAdded(conversation.id));

    const images = await send(conversation.id, "two photos", [image(1), image(2)]);
    const mixed = await send(conversation.id, null, [image(3), pdf]);
    const plain = await send(conversation.id, "just text", []);
    expect(images.data!.sendMessage).toMatchObject({
      kind: "IMAGE",
      text: "two photos",
      attachments: [image(1), image(2)],
    });
    // Text is optional when attachments are sent.
    expect(mixed.data!.sendMessage).toMatchObject({
      kind: "FILE",
      text: null,
      attachments: [image(3), pdf],
    });
    expect(plain.data!.sendMessage).toMatchObject({ kind: "TEXT", attachments: [] });

    const expected = [
      { kind: "IMAGE", text: "two photos", attachments: [image(1), image(2)] },
      { kind: "FILE", text: null, attachments: [image(3), pdf] },
      { kind: "TEXT", text: "just text", attachments: [] },
    ];
    expect(await messagesOf(app.url, bob, conversation.id)).toMatchObject(expected);
    expect((await sub.take(3)).map((v) => v.messageAdded)).toMatchObject(expected);
    expect((await conversationOf(app.url, bob, conversation.id)).lastMessage.kind).toBe("TEXT");
  });

  it("should accept 10 attachments and refuse 11 with BAD_USER_INPUT", async () => {
    const conversation = await createDirect(app.url, alice, bob, "attachments-count");
    const ten = Array.from({ length: 10 }, (_, i) => image(i));
    const ok = await send(conversation.id, null, ten);
    expect(ok.data!.sendMessage.attachments).toHaveLength(10);
    expectError(
      await send(conversation.id, null, [...ten, image(10)]),
      "BAD_USER_INPUT",
      "attachments",
    );
    expect(await messagesOf(app.url, alice, conversation.id)).toHaveLength(1);
  });

  it("should refuse URLs that are not https with BAD_USER_INPUT naming the attachment", async () => {
    const conversation = await createDirect(app.url, alice, bob, "attachments-https");
    const cases: Array<[AttachmentInput[], string]> = [
      [[{ ...image(1), url: "http://cdn.example/a.png" }], "attachments[0].url"],
      [[image(1), { ...image(2), url: "ftp://cdn.example/b.png" }], "attachments[1].url"],
      [[{ ...image(1), url: "not a url" }], "attachments[0].url"],
      [[{ ...image(1), url: "javascript:alert(1)" }], "attachments[0].url"],
    ];
    for (const [attachments, field] of cases) {
      expectError(await send(conversation.id, "look", attachments), "BAD_USER_INPUT", field);
    }
    expect(await messagesOf(app.url, alice, conversation.id)).toEqual([]);
  });

  it("should refuse a message with neither text nor attachments with BAD_USER_INPUT", async () => {
    const conversation = await createDirect(app.url, alice, bob, "attachments-empty");
    for (const [text, attachments] of [
      [null, undefined],
      [null, []],
      ["   ", []],
    ] as const) {
      expectError(
        await send(conversation.id, text, attachments as AttachmentInput[] | undefined),
        "BAD_USER_INPUT",
        "text",
      );
    }
  });
});
