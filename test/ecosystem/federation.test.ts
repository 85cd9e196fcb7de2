import { readFileSync } from "node:fs";
import path from "node:path";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { buildSubgraphSchema } from "@apollo/subgraph";
import gql from "graphql-tag";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { Collector, gql as request, gqlOk, waitForChannel, wsClient } from "../helpers/client";
import { CreateConversationDocument, MessageAddedDocument } from "../gql/graphql";
import { createDirect, sendText } from "../helpers/operations";
import { testUser, type TestUser } from "../helpers/tokens";

const SUBGRAPH_FILE = path.join(__dirname, "..", "..", "schema", "subgraph.graphql");

interface GatewayContext {
  authorization?: string;
}

/** Another domain service: owns users' profile names, and pins a conversation per user. */
async function startUsersSubgraph(names: Map<string, string>, pinned: Map<string, string>) {
  const seenAuthorization: Array<string | undefined> = [];
  const typeDefs = gql`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

    type User @key(fields: "id") {
      id: ID!
      name: String!
      pinnedConversation: Conversation
    }

    type Conversation @key(fields: "id", resolvable: false) {
      id: ID!
    }

    type Query {
      user(id: ID!): User
    }
  `;
  const profile = (id: string) => ({ id, name: names.get(id) ?? "Unknown" });
  const resolvers = {
    Query: {
      user: (_: unknown, args: { id: string }) => profile(args.id),
    },
    User: {
      __resolveReference: (ref: { id: string }, ctx: GatewayContext) => {
        seenAuthorization.push(ctx.authorization);
        return profile(ref.id);
      },
      pinnedConversation: (user: { id: string }) => {
        const id = pinned.get(user.id);
        return id ? { __typename: "Conversation", id } : null;
      },
    },
  };
  const server = new ApolloServer<GatewayContext>({
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as never }),
  });
  const { url } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return { url, seenAuthorization, stop: () => server.stop() };
}

/** @apollo/gateway composing both subgraphs, forwarding the viewer's Authorization header. */
async function startGateway(subgraphs: Array<{ name: string; url: string }>) {
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({ subgraphs }),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization)
            request.http?.headers.set("authorization", context.authorization);
        },
      }),
  });
  const server = new ApolloServer<GatewayContext>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return { url, stop: () => server.stop() };
}

const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Conversation { id title lastSeq }
    ... on Message { id seq text }
    ... on User { id displayName }
  }
}`;

describe("Federation subgraph (FEDERATION=true)", () => {
  const names = new Map<string, string>();
  const pinned = new Map<string, string>();
  let chat: TestApp;
  let users: Awaited<ReturnType<typeof startUsersSubgraph>>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let conversation: { id: string };
  let message: { id: string };

  beforeAll(async () => {
    // One at a time, so afterAll can stop whatever started when a later step fails.
    chat = await startTestApp(testEnv({ FEDERATION: "true" }));
    users = await startUsersSubgraph(names, pinned);
    gateway = await startGateway([
      { name: "chat", url: chat.url },
      { name: "users", url: users.url },
    ]);
    [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
    names.set(alice.id, "Alice Liddell");
    names.set(bob.id, "Bob Builder");
    conversation = await gqlOk(
      chat.url,
      CreateConversationDocument,
      { input: { kind: "GROUP", participantIds: [bob.id], title: "Federated plans" } },
      alice.token,
    ).then((data) => data.createConversation);
    message = await sendText(chat.url, alice, conversation.id, "through the gateway");
    pinned.set(alice.id, conversation.id);
    pinned.set(mallory.id, conversation.id);
  });
  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([users?.stop(), chat?.stop()]);
  });

  it("should serve the SDL committed in schema/subgraph.graphql as _service.sdl, without a token", async () => {
    const result = await request(chat.url, `{ _service { sdl } }`);
    expect(result.errors).toBeUndefined();
    expect(`${result.data?._service.sdl.trimEnd()}\n`).toBe(readFileSync(SUBGRAPH_FILE, "utf8"));
    expect(result.data?._service.sdl).toContain(
      '@link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])',
    );
    for (const type of ["User", "Conversation", "Message"]) {
      expect(result.data?._service.sdl).toMatch(
        new RegExp(`type ${type}\\s+@key\\(fields: "id"\\)`),
      );
    }
  });

  it("should return the viewer's conversations through the gateway with participants' names from the users subgraph", async () => {
    users.seenAuthorization.length = 0;
    const data = await gqlOk(
      gateway.url,
      `{
        conversations(first: 10) {
          edges { node { id title lastMessage { text } participants { role user { id displayName name } } } }
        }
      }`,
      {},
      bob.token,
    );
    expect(data.conversations.edges).toEqual([
      {
        node: {
          id: conversation.id,
          title: "Federated plans",
          lastMessage: { text: "through the gateway" },
          participants: [
            { role: "OWNER", user: { id: alice.id, displayName: alice.id, name: "Alice Liddell" } },
            { role: "MEMBER", user: { id: bob.id, displayName: bob.id, name: "Bob Builder" } },
          ],
        },
      },
    ]);
    // The gateway forwarded bob's token to both subgraphs (the chat one answered as bob above).
    expect(users.seenAuthorization).toContain(`Bearer ${bob.token}`);
  });

  it("should resolve a Conversation referenced by another subgraph for a participant, and nothing for anyone else", async () => {
    const query = `query($id: ID!) { user(id: $id) { name pinnedConversation { id title lastSeq } } }`;
    const mine = await gqlOk(gateway.url, query, { id: alice.id }, alice.token);
    expect(mine.user).toEqual({
      name: "Alice Liddell",
      pinnedConversation: { id: conversation.id, title: "Federated plans", lastSeq: 1 },
    });

    const theirs = await request(gateway.url, query, { id: mallory.id }, mallory.token);
    expect(theirs.data).toEqual({ user: { name: "Unknown", pinnedConversation: null } });
    expect(theirs.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
  });

  it("should resolve _entities for a participant: Conversation, Message and the Users they share it with", async () => {
    const stranger = `stranger-${bob.id}`;
    const data = await gqlOk(
      chat.url,
      ENTITIES,
      {
        representations: [
          { __typename: "Conversation", id: conversation.id },
          { __typename: "Message", id: message.id },
          { __typename: "User", id: bob.id },
          { __typename: "User", id: stranger },
        ],
      },
      alice.token,
    );
    expect(data._entities).toEqual([
      { __typename: "Conversation", id: conversation.id, title: "Federated plans", lastSeq: 1 },
      { __typename: "Message", id: message.id, seq: 1, text: "through the gateway" },
      { __typename: "User", id: bob.id, displayName: bob.id },
      { __typename: "User", id: stranger, displayName: null },
    ]);
  });

  it("should give a non-participant asking _entities nothing it may not see: NOT_FOUND, never a hint", async () => {
    const result = await request(
      chat.url,
      ENTITIES,
      {
        representations: [
          { __typename: "Conversation", id: conversation.id },
          { __typename: "Message", id: message.id },
          { __typename: "User", id: alice.id },
        ],
      },
      mallory.token,
    );
    expect(result.data?._entities).toEqual([
      null,
      null,
      { __typename: "User", id: alice.id, displayName: null },
    ]);
    // Entities resolve concurrently, so errors arrive in any order.
    const errors = result.errors?.map((e) => [e.path, e.extensions?.code]);
    expect(errors?.sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
      [["_entities", 0], "NOT_FOUND"],
      [["_entities", 1], "NOT_FOUND"],
    ]);
    expect(JSON.stringify(result)).not.toMatch(/Federated plans|through the gateway/);
  });

  it("should refuse _entities without a token, and a malformed id as BAD_USER_INPUT", async () => {
    const anonymous = await request(chat.url, ENTITIES, {
      representations: [{ __typename: "Conversation", id: conversation.id }],
    });
    expect(anonymous.data?._entities).toEqual([null]);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const malformed = await request(
      chat.url,
      ENTITIES,
      { representations: [{ __typename: "Message", id: "not-a-uuid" }] },
      alice.token,
    );
    expect(malformed.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("should still serve subscriptions over graphql-ws from the subgraph schema", async () => {
    const direct = await createDirect(chat.url, alice, bob, "federated-live");
    const ws = wsClient(chat.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: direct.id });
    await waitForChannel(
      `${chat.app.services.config.redisPrefix}conversation:${direct.id}:message-added`,
    );
    await sendText(chat.url, alice, direct.id, "live in a subgraph");
    const [event] = await sub.take(1);
    expect(event.messageAdded).toMatchObject({ seq: 1, text: "live in a subgraph" });
    await ws.dispose();
  });
});
