import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { MeDocument } from "../gql/graphql";
import { gql, gqlOk } from "../helpers/client";
import { createDirect, sendText } from "../helpers/operations";
import { testUser, type TestUser } from "../helpers/tokens";

const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Conversation { id title lastSeq }
    ... on Message { id seq text }
    ... on User { id displayName }
  }
}`;

/** Per entity: a page of 50 messages, each with its sender. */
const EXPENSIVE = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Conversation { id messages(first: 50) { edges { node { id text sender { id displayName } } } } }
  }
}`;

const MAX = 20;

describe("Federation _entities input (FEDERATION=true)", () => {
  let chat: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;
  let messageId: string;

  beforeAll(async () => {
    chat = await startTestApp(
      testEnv({
        FEDERATION: "true",
        MAX_ENTITY_REPRESENTATIONS: String(MAX),
        // Low enough that what one costs times MAX representations is over it.
        MAX_QUERY_COST: "5000",
      }),
    );
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    conversationId = (await createDirect(chat.url, alice, bob, "entities")).id;
    messageId = (await sendText(chat.url, alice, conversationId, "entity text")).id;
    // Signed in once, so this service knows bob's displayName.
    await gqlOk(chat.url, MeDocument, {}, bob.token);
  });
  afterAll(async () => {
    await chat?.stop();
  });

  const entities = (representations: unknown, query = ENTITIES) =>
    gql(chat.url, query, { representations }, alice.token);

  /** Every error BAD_USER_INPUT or a validation error, never an internal one, and nothing leaked. */
  function expectRefused(result: Awaited<ReturnType<typeof entities>>, what: unknown) {
    const codes = result.errors?.map((e) => e.extensions?.code);
    expect({ what, codes }).toEqual({ what, codes: [expect.any(String)] });
    expect({ what, code: codes?.[0] }).toEqual({
      what,
      code: expect.stringMatching(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/),
    });
    expect(JSON.stringify(result)).not.toContain("entity text");
  }

  it("should refuse representations of types that are not entities as BAD_USER_INPUT, never an internal error", async () => {
    for (const __typename of [
      "Participant",
      "Report",
      "__proto__",
      "constructor",
      "toString",
      "Query",
      "Mutation",
      "_Service",
      "_Entity",
      "String",
      "ConversationKind",
      "NoSuchType",
      "",
    ]) {
      const result = await entities([{ __typename, id: conversationId }]);
      expectRefused(result, __typename);
      expect(result.errors?.[0]?.extensions).toMatchObject({ field: "representations" });
    }
  });

  it("should refuse a representation without an id, with an id that is not a string, or that is no object, as BAD_USER_INPUT", async () => {
    for (const representation of [
      { __typename: "Conversation" },
      { __typename: "Message" },
      { __typename: "User" },
      { __typename: "User", id: null },
      { __typename: "User", id: { toString: "x" } },
      { __typename: "Message", id: { id: messageId } },
      { __typename: "Conversation", id: [conversationId] },
      { __typename: "User", id: 42 },
      { __typename: "User", id: true },
      { id: conversationId },
      { __typename: { name: "User" }, id: alice.id },
      "Conversation",
      42,
      [],
    ]) {
      expectRefused(await entities([representation]), representation);
    }
  });

  it("should refuse a User reference whose id no token could carry as BAD_USER_INPUT", async () => {
    for (const id of ["", " ", "x".repeat(129), "a\nb"]) {
      const result = await entities([{ __typename: "User", id }]);
      expectRefused(result, id);
    }
  });

  it("should still resolve well-formed references beside the limits", async () => {
    const data = await gqlOk(
      chat.url,
      ENTITIES,
      {
        representations: [
          { __typename: "Conversation", id: conversationId },
          { __typename: "Message", id: messageId },
          { __typename: "User", id: bob.id },
        ],
      },
      alice.token,
    );
    expect(data._entities).toEqual([
      { __typename: "Conversation", id: conversationId, title: null, lastSeq: 1 },
      { __typename: "Message", id: messageId, seq: 1, text: "entity text" },
      { __typename: "User", id: bob.id, displayName: bob.id },
    ]);
  });

  it("should resolve MAX_ENTITY_REPRESENTATIONS representations and refuse one more with BAD_USER_INPUT and extensions.limit", async () => {
    const messages = (n: number) =>
      Array.from({ length: n }, () => ({ __typename: "Message", id: messageId }));
    const full = await gqlOk(chat.url, ENTITIES, { representations: messages(MAX) }, alice.token);
    expect(full._entities).toHaveLength(MAX);

    // 16,000 short User references fit in the body limit (the review's 815 KiB request).
    const users = Array.from({ length: 16_000 }, (_, i) => ({ __typename: "User", id: `u${i}` }));
    for (const representations of [messages(MAX + 1), users]) {
      const before = chat.statements.length;
      const result = await entities(representations);
      expect(result.errors).toEqual([
        expect.objectContaining({
          path: ["_entities"],
          extensions: {
            code: "BAD_USER_INPUT",
            field: "representations",
            limit: "MAX_ENTITY_REPRESENTATIONS",
            max: MAX,
          },
        }),
      ]);
      expect(result.data).toBeNull();
      // Refused before anything was resolved: no statement about messages or users was sent.
      const sent = chat.statements.slice(before);
      expect(sent.filter((sql) => /\b(message|app_user|participant)\b/.test(sql))).toEqual([]);
    }
  });

  it("should count the representations of every _entities field of one operation together", async () => {
    const half = Array.from({ length: MAX / 2 + 1 }, () => ({
      __typename: "Message",
      id: messageId,
    }));
    const result = await gql(
      chat.url,
      `query($a: [_Any!]!, $b: [_Any!]!) {
        a: _entities(representations: $a) { __typename }
        ...more
      }
      fragment more on Query { b: _entities(representations: $b) { __typename } }`,
      { a: half, b: half },
      alice.token,
    );
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "MAX_ENTITY_REPRESENTATIONS",
    });
  });

  it("should count every representation in the query cost, refusing what one costs times many", async () => {
    const one = await gqlOk(
      chat.url,
      EXPENSIVE,
      { representations: [{ __typename: "Conversation", id: conversationId }] },
      alice.token,
    );
    expect(one._entities).toHaveLength(1);

    const many = Array.from({ length: MAX }, () => ({
      __typename: "Conversation",
      id: conversationId,
    }));
    const result = await entities(many, EXPENSIVE);
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "representations",
      limit: "MAX_QUERY_COST",
      max: 5000,
    });
  });
});
