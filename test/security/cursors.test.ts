import {
  ConversationsDocument,
  MessagesDocument,
  ReportsDocument,
  SearchMessagesDocument,
} from "../gql/graphql";
import { codeOf, gql, gqlOk, type Operation } from "../helpers/client";
import { createDirect, sendText } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

const CONVERSATION_MESSAGES = `query($id: ID!, $after: String, $before: String) {
  conversation(id: $id) { messages(first: 1, after: $after, before: $before) { edges { node { seq } } } }
}`;

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");
const ID = "00000000-0000-4000-8000-000000000000";

/** Timestamps a client can put in a cursor that the service never produced. */
const BAD_DATES = [
  "+275760-09-13T00:00:00.000Z", // JavaScript's last date; beyond what PostgreSQL binds
  "-271821-04-20T00:00:00.000Z", // JavaScript's first date
  "+010000-01-01T00:00:00.000Z",
  "-000001-01-01T00:00:00.000Z",
  "0000-01-01T00:00:00.000Z",
  "1969-12-31T23:59:59.999Z",
  "2026-01-01", // a date, but not how the service writes one
  "2026-01-01T00:00:00Z",
  "Thu, 01 Jan 2026 00:00:00 GMT",
  "2026-02-30T00:00:00.000Z",
];

/** Seq cursors out of range or not integers at all. */
const BAD_SEQS = [
  "-1",
  "2147483648",
  "9999999999",
  "99999999999999999999999999",
  "9223372036854775808",
  "NaN",
  "Infinity",
  "1e3",
  "0x10",
  "1.5",
  "",
];

describe("Cursors a client forged", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let moderator: TestUser;
  let conversationId: string;

  beforeAll(async () => {
    app = await startTestApp(testEnv());
    [alice, bob, moderator] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mod", { roles: ["moderator"] }),
    ]);
    conversationId = (await createDirect(app.url, alice, bob, "cursors")).id;
    await sendText(app.url, alice, conversationId, "first cursorword");
    await sendText(app.url, alice, conversationId, "second cursorword");
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function expectBadCursor<V>(
    query: Operation<Record<string, any>, V>,
    variables: V,
    field: string,
    token: string,
  ) {
    const result = await gql(app.url, query, variables, token);
    expect({
      variables,
      code: codeOf(result),
      field: result.errors?.[0]?.extensions?.field,
    }).toEqual({ variables, code: "BAD_USER_INPUT", field });
  }

  it("should refuse a searchMessages cursor whose date PostgreSQL cannot take as BAD_USER_INPUT naming after", async () => {
    for (const date of BAD_DATES) {
      await expectBadCursor(
        SearchMessagesDocument,
        { query: "cursorword", first: 1, after: b64(`search:${date}|${ID}`) },
        "after",
        bob.token,
      );
    }
  });

  it("should refuse a conversations cursor with an out-of-range date as BAD_USER_INPUT naming after", async () => {
    for (const date of BAD_DATES) {
      await expectBadCursor(
        ConversationsDocument,
        { first: 1, after: b64(`activity:${date}|${ID}`) },
        "after",
        alice.token,
      );
    }
  });

  it("should refuse a reports cursor with an out-of-range date as BAD_USER_INPUT naming after", async () => {
    for (const date of BAD_DATES) {
      await expectBadCursor(
        ReportsDocument,
        { first: 1, after: b64(`report:${date}|${ID}`) },
        "after",
        moderator.token,
      );
    }
  });

  it("should refuse time cursors with extra or missing parts", async () => {
    for (const raw of [
      `2026-01-01T00:00:00.000Z|${ID}|${ID}`,
      `2026-01-01T00:00:00.000Z|`,
      `|${ID}`,
      `2026-01-01T00:00:00.000Z`,
    ]) {
      await expectBadCursor(
        SearchMessagesDocument,
        { query: "cursorword", first: 1, after: b64(`search:${raw}`) },
        "after",
        bob.token,
      );
    }
  });

  it("should refuse seq cursors beyond int, negative or not numbers, in messages and Conversation.messages", async () => {
    for (const raw of BAD_SEQS) {
      const cursor = b64(`seq:${raw}`);
      await expectBadCursor(
        MessagesDocument,
        { conversationId, first: 1, after: cursor },
        "after",
        alice.token,
      );
      await expectBadCursor(
        MessagesDocument,
        { conversationId, first: 1, before: cursor },
        "before",
        alice.token,
      );
      await expectBadCursor(
        CONVERSATION_MESSAGES,
        { id: conversationId, after: cursor },
        "after",
        alice.token,
      );
    }
  });

  it("should still page with the cursors the service itself returns", async () => {
    const search = { query: "cursorword", first: 1 };
    const texts = (page: { edges: Array<{ node: { text?: string | null } }> }) =>
      page.edges.map((e) => e.node.text);
    const first = await gqlOk(app.url, SearchMessagesDocument, search, bob.token);
    expect(texts(first.searchMessages)).toEqual(["second cursorword"]);
    const next = await gqlOk(
      app.url,
      SearchMessagesDocument,
      { ...search, after: first.searchMessages.pageInfo.endCursor },
      bob.token,
    );
    expect(texts(next.searchMessages)).toEqual(["first cursorword"]);

    const inbox = await gqlOk(app.url, ConversationsDocument, { first: 1 }, alice.token);
    expect(inbox.conversations.edges.map((e) => e.node.id)).toEqual([conversationId]);
    const rest = await gqlOk(
      app.url,
      ConversationsDocument,
      { first: 1, after: inbox.conversations.pageInfo.endCursor },
      alice.token,
    );
    expect(rest.conversations.edges).toEqual([]);
  });
});
