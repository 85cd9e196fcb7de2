import type { DocumentNode } from "graphql";
import {
  CreateConversationDocument,
  EditMessageDocument,
  MessageAddedDocument,
  MessagesDocument,
  ReportDocument,
  SendMessageDocument,
} from "../gql/graphql";
import {
  codeOf,
  Collector,
  gqlOk,
  sourceOf,
  waitForChannel,
  wsClient,
  type WsClient,
} from "../helpers/client";
import { createDirect, createGroup, sendText } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { tokenFor, testUser, uid, type TestUser } from "../helpers/tokens";

/**
 * JSON can carry half a surrogate pair ("\ud800"); PostgreSQL's UTF-8 would store U+FFFD in its
 * place. Stored text with one is refused, so what a sender is answered is what history holds.
 */

const HIGH = "\\ud800";
const LOW = "\\udc00";
const GRINNING = "\\ud83d\\ude00";

/**
 * A GraphQL request whose variables are written as raw JSON, escapes and all, so nothing on the
 * client side normalises them. `json` is the JSON text of the variables object.
 */
async function rawRequest(url: string, token: string, query: DocumentNode, json: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: `{"query":${JSON.stringify(sourceOf(query))},"variables":${json}}`,
  });
  return {
    ...((await response.json()) as {
      data?: Record<string, any> | null;
      errors?: Array<{ extensions?: Record<string, any> }>;
    }),
    status: response.status,
  };
}

describe("Lone surrogates in stored text", () => {
  const env = testEnv();
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;
  const sockets: WsClient[] = [];

  const history = async (id = conversationId) =>
    (
      await gqlOk(app.url, MessagesDocument, { conversationId: id, last: 100 }, alice.token)
    ).messages.edges.map((e) => e.node);
  const expectRefused = (result: { errors?: any[]; data?: unknown }, field: string) => {
    expect({ code: codeOf(result as any), field: result.errors?.[0]?.extensions?.field }).toEqual({
      code: "BAD_USER_INPUT",
      field,
    });
    expect(result.data ?? null).toBeNull();
  };

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    conversationId = (await createDirect(app.url, alice, bob, "surrogates")).id;
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((ws) => ws.dispose()));
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe("Mutation.sendMessage", () => {
    it("should refuse text with a lone surrogate with BAD_USER_INPUT and store nothing", async () => {
      const before = await history();
      for (const text of [`hi ${HIGH}`, `${LOW} there`, `${LOW}${HIGH}`, `${GRINNING}${HIGH}`]) {
        const result = await rawRequest(
          app.url,
          alice.token,
          SendMessageDocument,
          `{"input":{"conversationId":"${conversationId}","text":"${text}"}}`,
        );
        expectRefused(result, "text");
      }
      expect(await history()).toEqual(before);
    });

    it("should answer a whole pair sent as escapes exactly as history stores it", async () => {
      const result = await rawRequest(
        app.url,
        alice.token,
        SendMessageDocument,
        `{"input":{"conversationId":"${conversationId}","text":"smile ${GRINNING}"}}`,
      );
      expect(result.errors).toBeUndefined();
      const sent = result.data!.sendMessage;
      expect(sent.text).toBe("smile \u{1F600}");
      const stored = (await history()).find((m: { id: string }) => m.id === sent.id);
      expect(stored!.text).toBe(sent.text);
    });

    it("should refuse an attachment name or mediaId with a lone surrogate", async () => {
      const attachment = (fields: string) =>
        `{"input":{"conversationId":"${conversationId}","attachments":[{"url":"https://cdn.example.com/a.png","mimeType":"image/png",${fields}}]}}`;
      expectRefused(
        await rawRequest(
          app.url,
          alice.token,
          SendMessageDocument,
          attachment(`"mediaId":"m1","name":"a${HIGH}.png"`),
        ),
        "attachments[0].name",
      );
      expectRefused(
        await rawRequest(
          app.url,
          alice.token,
          SendMessageDocument,
          attachment(`"mediaId":"m${LOW}"`),
        ),
        "attachments[0].mediaId",
      );
    });
  });

  describe("Mutation.editMessage", () => {
    it("should refuse text with a lone surrogate and keep the message as it was", async () => {
      const message = await sendText(app.url, alice, conversationId, "before the edit");
      const result = await rawRequest(
        app.url,
        alice.token,
        EditMessageDocument,
        `{"id":"${message.id}","text":"after ${HIGH}"}`,
      );
      expectRefused(result, "text");
      const stored = (await history()).find((m: { id: string }) => m.id === message.id);
      expect(stored!.text).toBe("before the edit");
    });
  });

  describe("Mutation.createConversation", () => {
    it("should refuse a title or subject with a lone surrogate", async () => {
      expectRefused(
        await rawRequest(
          app.url,
          alice.token,
          CreateConversationDocument,
          `{"input":{"kind":"GROUP","participantIds":["${bob.id}"],"title":"t${HIGH}"}}`,
        ),
        "title",
      );
      expectRefused(
        await rawRequest(
          app.url,
          alice.token,
          CreateConversationDocument,
          `{"input":{"kind":"DIRECT","participantIds":["${bob.id}"],"subject":"s${LOW}"}}`,
        ),
        "subject",
      );
    });
  });

  describe("Mutation.report", () => {
    it("should refuse details with a lone surrogate", async () => {
      const group = await createGroup(app.url, alice, [bob], "report details");
      const message = await sendText(app.url, bob, group.id, "reported");
      expectRefused(
        await rawRequest(
          app.url,
          alice.token,
          ReportDocument,
          `{"input":{"messageId":"${message.id}","reason":"SPAM","details":"d${HIGH}"}}`,
        ),
        "details",
      );
    });
  });

  describe("the token's name claim", () => {
    it("should be cut at 200 characters without splitting one, so events show the stored name", async () => {
      // 199 letters and an emoji: 200 characters, 201 UTF-16 units.
      const name = `${"x".repeat(199)}\u{1F600}`;
      const long = { id: uid("long"), token: "" };
      long.token = await tokenFor(long.id, { name });
      const direct = await createDirect(app.url, long, alice, "long name");
      const ws = wsClient(app.wsUrl, alice.token);
      sockets.push(ws);
      const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: direct.id });
      await waitForChannel(`${env.REDIS_PREFIX}conversation:${direct.id}:message-added`);
      const sent = await sendText(app.url, long, direct.id, "hello");
      const [event] = await sub.take(1);
      const [stored] = await history(direct.id);
      expect(stored).toMatchObject({ id: sent.id, sender: { displayName: name } });
      const { id, sender } = event.messageAdded;
      expect({ id, sender: { displayName: sender?.displayName } }).toEqual({
        id: sent.id,
        sender: { displayName: stored.sender?.displayName },
      });
    });
  });
});
