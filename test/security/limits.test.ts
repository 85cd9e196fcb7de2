import { Collector, gql, gqlOk, wsClient, type GraphQLResponse } from "../helpers/client";
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
  async function overWebSocket(query: string) {
    const ws = wsClient(app.wsUrl, alice.token);
    try {
      const sub = new Collector(ws.client, query);
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
