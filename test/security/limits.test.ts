import { ConversationsDocument, MessagesFullDocument } from "../gql/graphql";
import { Collector, gql, gqlOk, wsClient, type GraphQLResponse } from "../helpers/client";
import { createDirect } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

const aliased = (n: number, field = "__typename") =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`;

describe("Request limits", () => {
  let app: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    app = await startTestApp(testEnv());
    alice = await testUser("alice");
  });
  afterAll(async () => {
    await app?.stop();
  });

  function expectRefused(result: GraphQLResponse, message: RegExp) {
    expect(result.status).toBe(400);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.length).toBeGreaterThan(0);
    expect(result.errors?.map((e) => e.extensions?.code)).toEqual(
      result.errors?.map(() => "GRAPHQL_VALIDATION_FAILED"),
    );
    expect(result.errors?.map((e) => e.message).join("\n")).toMatch(message);
  }

  /** The errors of one operation over graphql-ws. */
  async function overWebSocket(query: string, variables: Record<string, unknown> = {}) {
    const ws = wsClient(app.wsUrl, alice.token);
    try {
      const sub = new Collector(ws.client, query, variables);
      await sub.ended();
      return { values: sub.values, errors: sub.errors.flat() as GraphQLResponse["errors"] };
    } finally {
      await ws.dispose();
    }
  }

  describe("aliases", () => {
    it("should refuse 1,000 __typename aliases over HTTP", async () => {
      expectRefused(await gql(app.url, aliased(1000), {}, alice.token), /Aliases limit of 15/);
    });

    it("should refuse 1,000 __typename aliases over WebSocket", async () => {
      const { values, errors } = await overWebSocket(aliased(1000));
      expect(values).toEqual([]);
      expect(errors?.map((e) => e.extensions?.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
      expect(errors?.[0]?.message).toMatch(/Aliases limit of 15/);
    });

    it("should count __typename aliases like any other: MAX_ALIASES of them pass, one more does not", async () => {
      const data = await gqlOk(app.url, aliased(15), {}, alice.token);
      expect(Object.keys(data)).toHaveLength(15);
      expectRefused(await gql(app.url, aliased(16), {}, alice.token), /Aliases limit of 15/);
      // Mixed with aliases of other fields, inside nested selections and fragments.
      const mixed = `{ me { ...names } ${Array.from({ length: 8 }, (_, i) => `t${i}: __typename`).join(" ")} }
        fragment names on User { ${Array.from({ length: 8 }, (_, i) => `n${i}: __typename`).join(" ")} }`;
      expectRefused(await gql(app.url, mixed, {}, alice.token), /Aliases limit of 15/);
    });
  });

  describe("page sizes given as variables", () => {
    // 100 conversations × 100 messages × their readers: far over MAX_QUERY_COST (100,000).
    const nested = (first: string, inner: string) => `query($n: Int, $m: Int) {
      conversations(first: ${first}) { edges { node {
        messages(first: ${inner}) { edges { node { id text readBy { id } } } }
      } } }
    }`;
    const byVariables = nested("$n", "$m");

    it("should refuse over HTTP what the cost limit refuses when the sizes are written inline", async () => {
      expectRefused(await gql(app.url, nested("100", "100"), {}, alice.token), /Cost limit/);
      const result = await gql(app.url, byVariables, { n: 100, m: 100 }, alice.token);
      expectRefused(result, /Cost limit of 100000 exceeded/);
      expect(result.errors?.[0]?.extensions).toMatchObject({
        limit: "MAX_QUERY_COST",
        max: 100_000,
      });
    });

    it("should refuse it over WebSocket", async () => {
      const { values, errors } = await overWebSocket(byVariables, { n: 100, m: 100 });
      expect(values).toEqual([]);
      expect(errors?.map((e) => e.extensions?.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
      expect(errors?.[0]?.extensions?.limit).toBe("MAX_QUERY_COST");
    });

    it("should answer the same operation with small sizes, and a large page that stays in budget", async () => {
      const small = await gqlOk(app.url, byVariables, { n: 2, m: 2 }, alice.token);
      expect(small.conversations).toBeDefined();
      const { values, errors } = await overWebSocket(byVariables, { n: 2, m: 2 });
      expect(errors).toEqual([]);
      expect(values).toHaveLength(1);
    });

    it("should answer the typed operations with the largest page", async () => {
      const direct = await createDirect(app.url, alice, await testUser("bob"));
      const variables = { conversationId: direct.id, first: 100 };
      const { messages } = await gqlOk(app.url, MessagesFullDocument, variables, alice.token);
      expect(messages.edges).toEqual([]);
      const { conversations } = await gqlOk(
        app.url,
        ConversationsDocument,
        { first: 100 },
        alice.token,
      );
      expect(conversations.edges.map((e) => e.node.id)).toContain(direct.id);
    });
  });

  describe("selections that are cheap to write", () => {
    it("should refuse __typename repeated thousands of times without aliases", async () => {
      const result = await gql(app.url, `{ ${"__typename ".repeat(4000)} }`, {}, alice.token);
      expect(result.status).toBe(400);
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    });

    it("should count fragments in the cost and depth limits, however many there are", async () => {
      const spreads = (n: number, body: string) =>
        `{ ${Array.from({ length: n }, (_, i) => `...f${i}`).join(" ")} } ` +
        Array.from({ length: n }, (_, i) => `fragment f${i} on Query { ${body} }`).join(" ");
      // As many fragments as MAX_TOKENS lets one write: refused, by the cost limit or by
      // graphql-js's own budget for comparing fields, before anything runs.
      expectRefused(
        await gql(app.url, spreads(500, "__typename"), {}, alice.token),
        /Cost limit|Validation aborted/,
      );
      expectRefused(
        await gql(app.url, spreads(380, "me { id }"), {}, alice.token),
        /Cost limit|Validation aborted/,
      );
      // Fragments nested in fragments count their depth.
      const chain =
        `{ ...c0 } ` +
        Array.from(
          { length: 14 },
          (_, i) => `fragment c${i} on Query { ${i < 13 ? `...c${i + 1}` : "__typename"} }`,
        ).join(" ");
      expectRefused(await gql(app.url, chain, {}, alice.token), /depth limit of 12/);
      // A fragment spread twice per level doubles the cost per level, and is counted so.
      const doubling =
        `{ ...d0 } ` +
        Array.from(
          { length: 11 },
          (_, i) =>
            `fragment d${i} on Query { __typename ${i < 10 ? `...d${i + 1} ...d${i + 1}` : ""} }`,
        ).join(" ");
      expectRefused(await gql(app.url, doubling, {}, alice.token), /Cost limit/);
    });
  });
});
