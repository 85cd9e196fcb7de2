import { gql, wsClient, type GraphQLResponse, type WsClient } from "../helpers/client";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

const CREATE_LITERAL = `mutation { createConversation(input: { kind: GROUPP, title: "t", participantIds: [] }) { id } }`;
const CREATE_VARIABLE = `mutation($kind: ConversationKind!) {
  createConversation(input: { kind: $kind, title: "t", participantIds: [] }) { id }
}`;
const CONVERSATION = `query($c: ID!) { conversation(id: $c) { id } }`;

type Errors = NonNullable<GraphQLResponse["errors"]>;

/** The errors of one operation over graphql-ws: the `error` message, or a `next` with errors. */
function overWs(ws: WsClient, query: string, variables: Record<string, unknown>) {
  return new Promise<Errors>((resolve, reject) =>
    ws.client.subscribe(
      { query, variables },
      {
        next: (result) => (result.errors ? resolve(result.errors as Errors) : reject(result)),
        error: (error) => (Array.isArray(error) ? resolve(error as Errors) : reject(error)),
        complete: () => {},
      },
    ),
  );
}

const expectNoHints = (errors: Errors) => {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) expect(error.message).not.toMatch(/did you mean/i);
};

describe("Input errors in production", () => {
  let app: TestApp;
  let alice: TestUser;
  let ws: WsClient;

  beforeAll(async () => {
    app = await startTestApp(testEnv({ NODE_ENV: "production" }));
    alice = await testUser("alice");
    ws = wsClient(app.wsUrl, alice.token);
  });
  afterAll(async () => {
    await ws?.dispose();
    await app?.stop();
  });

  describe("an unknown enum value", () => {
    it("should be refused without suggestions over HTTP, as a literal and as a variable", async () => {
      const literal = await gql(app.url, CREATE_LITERAL, {}, alice.token);
      expect(literal.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expectNoHints(literal.errors!);
      const variable = await gql(app.url, CREATE_VARIABLE, { kind: "GROUPP" }, alice.token);
      expect(variable.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expectNoHints(variable.errors!);
    });

    it("should be refused without suggestions over WebSocket, as a literal and as a variable", async () => {
      const literal = await overWs(ws, CREATE_LITERAL, {});
      expect(literal[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expectNoHints(literal);
      const variable = await overWs(ws, CREATE_VARIABLE, { kind: "GROUPP" });
      expect(variable[0].extensions?.code).toBe("BAD_USER_INPUT");
      expectNoHints(variable);
    });
  });

  describe("a variable of the wrong type over WebSocket", () => {
    it.each([
      ["an object for an ID!", CONVERSATION, { c: { a: 1 } }],
      ["a missing required variable", CONVERSATION, {}],
      ["a list for an enum", CREATE_VARIABLE, { kind: ["GROUP"] }],
    ])(
      "should answer %s with BAD_USER_INPUT, as HTTP does, and keep the socket",
      async (_l, q, v) => {
        const http = await gql(app.url, q, v, alice.token);
        expect(http.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
        const errors = await overWs(ws, q, v);
        expect(errors.map((e) => e.extensions?.code)).toEqual(
          http.errors!.map((e) => e.extensions?.code),
        );
        // The same socket still answers.
        const ok = await overWs(ws, CONVERSATION, { c: "00000000-0000-4000-8000-000000000000" });
        expect(ok[0].extensions?.code).toBe("NOT_FOUND");
      },
    );

    it("should answer an unknown operation name as HTTP does", async () => {
      const errors = await new Promise<Errors>((resolve, reject) =>
        ws.client.subscribe(
          { query: "query A { me { id } } query B { me { id } }", operationName: "C" },
          {
            next: (result) => (result.errors ? resolve(result.errors as Errors) : reject(result)),
            error: (error) => (Array.isArray(error) ? resolve(error as Errors) : reject(error)),
            complete: () => {},
          },
        ),
      );
      expect(errors[0].extensions?.code).toBe("OPERATION_RESOLUTION_FAILURE");
    });
  });
});
