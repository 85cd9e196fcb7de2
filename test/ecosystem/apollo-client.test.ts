import {
  ApolloClient,
  HttpLink,
  InMemoryCache,
  split,
  type SubscriptionObservable,
} from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import {
  CreateConversationDocument,
  EditMessageDocument,
  MeDocument,
  MessageAddedDocument,
  MessagesDocument,
  MessageUpdatedDocument,
  SendMessageDocument,
  type MessageFieldsFragment,
} from "../gql/graphql";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { waitForChannel } from "../helpers/client";
import { testUser, type TestUser } from "../helpers/tokens";

/** What a frontend builds: HTTP for queries and mutations, graphql-ws for subscriptions. */
function chatClient(app: TestApp, user: TestUser) {
  const authorization = `Bearer ${user.token}`;
  const ws = createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    retryAttempts: 0,
  });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: app.url, headers: { authorization } }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return {
    client,
    async dispose() {
      client.stop();
      await ws.dispose();
    },
  };
}

/** Values of an Observable-like stream, awaited by count. */
class Received<T> {
  readonly values: T[] = [];
  private failure: unknown = null;
  private wake: () => void = () => {};
  readonly subscription: { unsubscribe(): void };

  constructor(observable: SubscriptionObservable<ApolloClient.SubscribeResult<T>>) {
    this.subscription = observable.subscribe({
      next: (result) => {
        if (result.error) this.failure = result.error;
        else if (result.data) this.values.push(result.data);
        this.wake();
      },
      error: (error) => {
        this.failure = error;
        this.wake();
      },
    });
  }

  async take(count: number, timeoutMs = 10_000): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.values.length < count) {
      if (this.failure) throw new Error(`Subscription failed: ${String(this.failure)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out with ${JSON.stringify(this.values)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.values.slice(0, count);
  }
}

describe("Typed Apollo Client (codegen client-preset documents from test/operations)", () => {
  const env = testEnv();
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let aliceClient: ReturnType<typeof chatClient>;
  let bobClient: ReturnType<typeof chatClient>;

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    aliceClient = chatClient(app, alice);
    bobClient = chatClient(app, bob);
  });
  afterAll(async () => {
    await Promise.all([aliceClient?.dispose(), bobClient?.dispose()]);
    await app?.stop();
  });

  it("should create, send, receive, edit and page history through the generated documents", async () => {
    const { data: me } = await bobClient.client.query({ query: MeDocument });
    expect(me?.me.id).toBe(bob.id);

    const { data: created } = await aliceClient.client.mutate({
      mutation: CreateConversationDocument,
      variables: { input: { kind: "DIRECT", participantIds: [bob.id], subject: "typed" } },
    });
    const conversationId = created!.createConversation.id;
    expect(created!.createConversation.participants.map((p) => p.user.id).sort()).toEqual(
      [alice.id, bob.id].sort(),
    );

    const added = new Received(
      bobClient.client.subscribe({
        query: MessageAddedDocument,
        variables: { conversationId, afterSeq: 0 },
      }),
    );
    const updated = new Received(
      bobClient.client.subscribe({ query: MessageUpdatedDocument, variables: { conversationId } }),
    );

    const sent: MessageFieldsFragment[] = [];
    for (let i = 1; i <= 5; i++) {
      const { data } = await aliceClient.client.mutate({
        mutation: SendMessageDocument,
        variables: { input: { conversationId, text: `typed ${i}`, clientMessageId: `typed-${i}` } },
      });
      sent.push(data!.sendMessage);
    }
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);

    // afterSeq: 0 replays anything sent before the subscription was live, so nothing is lost.
    const live = (await added.take(5)).map((v) => v.messageAdded);
    expect(live.map((m) => [m.seq, m.text, m.sender?.id])).toEqual(
      sent.map((m) => [m.seq, m.text, alice.id]),
    );

    await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversationId}:message-updated`);
    const { data: edited } = await aliceClient.client.mutate({
      mutation: EditMessageDocument,
      variables: { id: sent[2].id, text: "typed 3, edited" },
    });
    expect(edited!.editMessage.editedAt).toEqual(expect.any(String));
    const [update] = await updated.take(1);
    expect(update.messageUpdated).toMatchObject({
      id: sent[2].id,
      seq: 3,
      text: "typed 3, edited",
    });
    expect(new Date(update.messageUpdated.editedAt!).getTime()).toBeGreaterThan(0);

    // History, newest page first, walking back with `before: startCursor`.
    const pages: Array<Array<[number, string | null]>> = [];
    let before: string | null | undefined;
    for (;;) {
      const { data } = await bobClient.client.query({
        query: MessagesDocument,
        variables: { conversationId, last: 2, before },
        fetchPolicy: "network-only",
      });
      const page = data!.messages;
      pages.push(page.edges.map((e) => [e.node.seq, e.node.text]));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(pages).toEqual([
      [
        [4, "typed 4"],
        [5, "typed 5"],
      ],
      [
        [2, "typed 2"],
        [3, "typed 3, edited"],
      ],
      [[1, "typed 1"]],
    ]);

    // Forward from the oldest with `first` and `after: endCursor`.
    const { data: first } = await bobClient.client.query({
      query: MessagesDocument,
      variables: { conversationId, first: 3 },
      fetchPolicy: "network-only",
    });
    expect(first!.messages.edges.map((e) => e.node.seq)).toEqual([1, 2, 3]);
    expect(first!.messages.pageInfo.hasNextPage).toBe(true);
    const { data: rest } = await bobClient.client.query({
      query: MessagesDocument,
      variables: { conversationId, first: 3, after: first!.messages.pageInfo.endCursor },
      fetchPolicy: "network-only",
    });
    expect(rest!.messages.edges.map((e) => e.node.seq)).toEqual([4, 5]);
    expect(rest!.messages.pageInfo.hasNextPage).toBe(false);

    added.subscription.unsubscribe();
    updated.subscription.unsubscribe();
  });
});

/**
 * Never called: `tsc` (npm run lint) proves the generated documents type variables and results.
 * Each directive fails the build if the line below it stops being a type error.
 */
export function typeChecks(client: ApolloClient) {
  void client.mutate({
    mutation: EditMessageDocument,
    // @ts-expect-error: text is String!, not a number.
    variables: { id: "x", text: 42 },
  });
  void client.mutate({
    mutation: CreateConversationDocument,
    // @ts-expect-error: kind is ConversationKind (DIRECT | GROUP).
    variables: { input: { kind: "CHANNEL", participantIds: [] } },
  });
  void client.query({ query: MessagesDocument, variables: { conversationId: "c" } }).then((r) => {
    // @ts-expect-error: the Messages operation selects no `body` field.
    void r.data?.messages.edges[0].node.body;
    const seq: number | undefined = r.data?.messages.edges[0].node.seq;
    return seq;
  });
}
