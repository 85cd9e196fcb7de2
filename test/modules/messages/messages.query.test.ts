import {
  ConversationDocument,
  MessagesDocument,
  type MessagesQuery,
  type MessagesQueryVariables,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createDirect, sendText } from "../../helpers/operations";
import { startTestApp, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

/** Conversation.messages, which no operation in test/operations selects. */
const CONVERSATION_MESSAGES = `query($conversationId: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  conversation(id: $conversationId) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id seq text } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`;

type Page = MessagesQuery["messages"];

/** A page with what CONVERSATION_MESSAGES selects of it. */
const pageFields = ({ edges, pageInfo }: Page) => ({
  edges: edges.map(({ cursor, node: { id, seq, text } }) => ({ cursor, node: { id, seq, text } })),
  pageInfo,
});

describe("Query.messages", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let conversationId: string;
  const TOTAL = 250;

  const page = async (
    variables: Omit<MessagesQueryVariables, "conversationId">,
    user = bob,
  ): Promise<Page> =>
    (await gqlOk(app.url, MessagesDocument, { conversationId, ...variables }, user.token)).messages;
  const seqsOf = (p: Page) => p.edges.map((e) => e.node.seq);
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  beforeAll(async () => {
    app = await startTestApp();
    [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
    conversationId = (await createDirect(app.url, alice, bob, "history")).id;
    for (let start = 1; start <= TOTAL; start += 25) {
      await Promise.all(
        range(start, start + 24).map((i) =>
          sendText(app.url, i % 2 ? alice : bob, conversationId, `m${i}`),
        ),
      );
    }
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("should give the conversation lastSeq 250, one seq per message sent", async () => {
    const data = await gqlOk(app.url, ConversationDocument, { id: conversationId }, alice.token);
    expect(data.conversation!.lastSeq).toBe(TOTAL);
  });

  it("should return the newest page for last: 50, with an earlier page to come", async () => {
    const newest = await page({ last: 50 });
    expect(seqsOf(newest)).toEqual(range(201, 250));
    expect(newest.pageInfo).toMatchObject({
      hasPreviousPage: true,
      hasNextPage: false,
      startCursor: newest.edges[0].cursor,
      endCursor: newest.edges[49].cursor,
    });
    // No arguments at all: the newest page, default size 50, as a chat screen opens.
    expect(seqsOf(await page({}))).toEqual(range(201, 250));
  });

  it("should walk back with before: startCursor to the first message, each exactly once", async () => {
    const seen: number[] = [];
    let before: string | null = null;
    let pages = 0;
    for (;;) {
      const current: Page = await page({ last: 50, before });
      seen.unshift(...seqsOf(current));
      pages++;
      if (!current.pageInfo.hasPreviousPage) break;
      expect(current.pageInfo.hasNextPage).toBe(before !== null);
      before = current.pageInfo.startCursor;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(range(1, TOTAL));
  });

  it("should walk forward with first: 100 and after: endCursor to the last message, each exactly once", async () => {
    const seen: number[] = [];
    const infos: Array<[number, boolean, boolean]> = [];
    let after: string | null = null;
    for (;;) {
      const current: Page = await page({ first: 100, after });
      seen.push(...seqsOf(current));
      infos.push([
        current.edges.length,
        current.pageInfo.hasPreviousPage,
        current.pageInfo.hasNextPage,
      ]);
      if (!current.pageInfo.hasNextPage) break;
      after = current.pageInfo.endCursor;
    }
    expect(seen).toEqual(range(1, TOTAL));
    expect(infos).toEqual([
      [100, false, true],
      [100, true, true],
      [50, true, false],
    ]);
  });

  it("should hold every sent message once, batches in the order they were sent", async () => {
    const all: Page["edges"] = [];
    let after: string | null = null;
    do {
      const current: Page = await page({ first: 100, after });
      all.push(...current.edges);
      after = current.pageInfo.hasNextPage ? current.pageInfo.endCursor : null;
    } while (after);
    expect(new Set(all.map((e) => e.node.id)).size).toBe(TOTAL);
    // Within a batch sent at once the order is the server's; batches themselves are in order.
    const batchOf = (n: number) => Math.floor((n - 1) / 25);
    for (const { node } of all) {
      expect(batchOf(Number(node.text!.slice(1)))).toBe(batchOf(node.seq));
    }
    expect(all.map((e) => e.node.text).sort()).toEqual(
      range(1, TOTAL)
        .map((i) => `m${i}`)
        .sort(),
    );
  });

  it("should return an empty page past the end", async () => {
    const last = await page({ last: 1 });
    const past = await page({ first: 10, after: last.pageInfo.endCursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: null,
      endCursor: null,
    });
  });

  it("should return the same pages through Conversation.messages", async () => {
    for (const variables of [
      { last: 50 },
      { first: 100 },
      { last: 30, before: (await page({ last: 50 })).pageInfo.startCursor },
      { first: 70, after: (await page({ first: 100 })).pageInfo.endCursor },
      {},
    ]) {
      const viaQuery = await page(variables);
      const viaField = (
        await gqlOk(app.url, CONVERSATION_MESSAGES, { conversationId, ...variables }, bob.token)
      ).conversation.messages;
      expect(viaField).toEqual(pageFields(viaQuery));
    }
  });

  it("should refuse page sizes 0 and 1000 for first and last with BAD_USER_INPUT", async () => {
    for (const variables of [{ first: 0 }, { first: 1000 }, { last: 0 }, { last: 1000 }]) {
      const result = await gql(
        app.url,
        MessagesDocument,
        { conversationId, ...variables },
        bob.token,
      );
      expect({ variables, code: codeOf(result) }).toEqual({ variables, code: "BAD_USER_INPUT" });
      expect(result.errors![0].extensions!.field).toBe(Object.keys(variables)[0]);
    }
  });

  it("should refuse first and last together with BAD_USER_INPUT", async () => {
    const result = await gql(
      app.url,
      MessagesDocument,
      { conversationId, first: 10, last: 10 },
      bob.token,
    );
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
  });

  it("should refuse garbage cursors with BAD_USER_INPUT", async () => {
    const conversationCursor = Buffer.from("activity:x", "utf8").toString("base64url");
    for (const variables of [
      { after: "garbage" },
      { before: "garbage" },
      { after: "" },
      { before: conversationCursor },
      { after: Buffer.from("seq:-1", "utf8").toString("base64url") },
    ]) {
      const result = await gql(
        app.url,
        MessagesDocument,
        { conversationId, ...variables },
        bob.token,
      );
      expect({ variables, code: codeOf(result) }).toEqual({ variables, code: "BAD_USER_INPUT" });
      expect(result.errors![0].extensions!.field).toBe(Object.keys(variables)[0]);
    }
  });

  it("should refuse a user who is not a participant with NOT_FOUND", async () => {
    const result = await gql(
      app.url,
      MessagesDocument,
      { conversationId, last: 10 },
      mallory.token,
    );
    expect(codeOf(result)).toBe("NOT_FOUND");
    expect(result.data).toBeNull();
    const viaField = await gql(
      app.url,
      CONVERSATION_MESSAGES,
      { conversationId, last: 10 },
      mallory.token,
    );
    expect(codeOf(viaField)).toBe("NOT_FOUND");
    expect(viaField.data).toEqual({ conversation: null });
  });

  it("should refuse a conversationId that is not a uuid with BAD_USER_INPUT", async () => {
    const result = await gql(
      app.url,
      MessagesDocument,
      { conversationId: "nope", last: 10 },
      bob.token,
    );
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
    expect(result.errors![0].extensions!.field).toBe("conversationId");
  });
});
