import type { DocumentNode } from "graphql";
import { buildApp, type App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { MessageAddedDocument, RemoveParticipantDocument } from "../gql/graphql";
import { gqlOk } from "../helpers/client";
import { testEnv } from "../helpers/app";
import { createGroup, sendText } from "../helpers/operations";
import { RawClient } from "../helpers/raw-ws";
import { testUser, type TestUser } from "../helpers/tokens";

const MESSAGE_ADDED_SHORT = `subscription($conversationId: ID) {
  messageAdded(conversationId: $conversationId) { seq text }
}`;
// Depends on the viewer: executed once per viewer, never shared between viewers.
const MESSAGE_ADDED_VIEWER = `subscription($conversationId: ID) {
  messageAdded(conversationId: $conversationId) { seq conversation { id viewerRole } }
}`;

/**
 * Subscriptions through the real server with the grouped delivery on, compared frame for frame
 * with an instance that executes every subscription on its own (graphql-ws's path); both share
 * the database and Redis, so they receive the same events.
 */
describe("Subscription delivery grouped per document, variables and visible data", () => {
  const env = testEnv();
  let grouped: App;
  let plain: App;
  let alice: TestUser;
  let members: TestUser[];
  const clients: RawClient[] = [];
  const wsUrl = (app: App) => app.url.replace(/^http/, "ws");

  beforeAll(async () => {
    [grouped, plain] = await Promise.all([
      buildApp(loadConfig(env)),
      buildApp(loadConfig(env), { fanout: false }),
    ]);
    await Promise.all([grouped.start(0), plain.start(0)]);
  });
  beforeEach(async () => {
    // New users per test: each user may hold only a few connections.
    [alice, ...members] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((name) => testUser(name)),
    );
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    // Let the servers finish the last disconnects (presence) before they stop.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await Promise.all([grouped?.stop(), plain?.stop()]);
  });

  async function connect(app: App, user: TestUser) {
    const client = await RawClient.connect(wsUrl(app), user.token);
    clients.push(client);
    return client;
  }

  /**
   * Sends until every client has a frame for subscription `id`, then waits for the last warm-up
   * everywhere (one that went live late, without afterSeq, never sees the first ones).
   */
  async function untilLive(conversationId: string, subscribers: RawClient[], id = "1") {
    let sent = 0;
    let lastSeq = 0;
    const deadline = Date.now() + 10_000;
    while (subscribers.some((c) => !c.of(id).length)) {
      if (Date.now() > deadline) throw new Error("subscriptions did not go live");
      ({ seq: lastSeq } = await sendText(grouped.url, alice, conversationId, `warm-up ${++sent}`));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const hasLast = (c: RawClient) =>
      !sent || c.of(id).some((f) => f.includes(`"seq":${lastSeq},`));
    await Promise.all(subscribers.map((c) => c.until(() => hasLast(c))));
    return sent;
  }

  it("should send every subscriber of a group the same frame as graphql-ws's own path does", async () => {
    const conversation = await createGroup(grouped.url, alice, members, "Same frames");
    const variables = { conversationId: conversation.id, afterSeq: 0 };
    const [bob, carol, dave] = members;
    const subscribers = [
      await connect(grouped, bob),
      await connect(grouped, bob),
      await connect(grouped, carol),
      await connect(grouped, dave),
    ];
    const reference = await connect(plain, bob);
    for (const client of [...subscribers, reference])
      client.subscribe("1", MessageAddedDocument, variables);
    const warm = await untilLive(conversation.id, [...subscribers, reference]);

    for (let i = 1; i <= 5; i++) await sendText(grouped.url, alice, conversation.id, `live ${i}`);
    const total = warm + 5;
    for (const client of [...subscribers, reference]) {
      await client.until(() => client.of("1").length >= total);
    }
    const expected = reference.of("1");
    expect(expected.at(-1)).toContain('"text":"live 5"');
    for (const client of subscribers) expect(client.of("1")).toEqual(expected);
  });

  it("should not merge subscriptions whose documents or variables differ", async () => {
    const conversation = await createGroup(grouped.url, alice, members, "Different documents");
    const [bob, carol] = members;
    const variants: Array<[string | DocumentNode, Record<string, unknown>]> = [
      [MessageAddedDocument, { conversationId: conversation.id }],
      [MESSAGE_ADDED_SHORT, { conversationId: conversation.id }],
      [MessageAddedDocument, { conversationId: null }],
      [MESSAGE_ADDED_VIEWER, { conversationId: conversation.id }],
    ];
    const open = async (app: App, user: TestUser) => {
      const client = await connect(app, user);
      variants.forEach(([query, variables], i) => client.subscribe(String(i), query, variables));
      return client;
    };
    const [groupedBob, groupedCarol, plainBob, plainCarol] = await Promise.all([
      open(grouped, bob),
      open(grouped, carol),
      open(plain, bob),
      open(plain, carol),
    ]);
    const all = [groupedBob, groupedCarol, plainBob, plainCarol];
    for (let i = 0; i < variants.length; i++) await untilLive(conversation.id, all, String(i));
    const { seq } = await sendText(grouped.url, alice, conversation.id, "the one that counts");
    const last = (client: RawClient, id: string) => client.of(id).at(-1)!;
    for (const client of all) {
      await client.until(() =>
        variants.every((_, i) => last(client, String(i)).includes(`"seq":${seq},`)),
      );
    }

    variants.forEach((_, i) => {
      const id = String(i);
      expect(last(groupedBob, id)).toEqual(last(plainBob, id));
      expect(last(groupedCarol, id)).toEqual(last(plainCarol, id));
    });
    // Each document got its own shape.
    expect(JSON.parse(last(groupedBob, "1")).payload.data.messageAdded).toEqual({
      seq: expect.any(Number),
      text: "the one that counts",
    });
    // Per-viewer data stays per viewer: alice made the group, bob and carol are members.
    expect(JSON.parse(last(groupedBob, "3")).payload.data.messageAdded.conversation).toEqual({
      id: conversation.id,
      viewerRole: "MEMBER",
    });
  });

  it("should send nothing more to a member removed from the conversation", async () => {
    const conversation = await createGroup(grouped.url, alice, members, "Removal");
    const [bob, carol] = members;
    const bobClient = await connect(grouped, bob);
    const carolClient = await connect(grouped, carol);
    for (const client of [bobClient, carolClient]) {
      client.subscribe("1", MessageAddedDocument, { conversationId: conversation.id });
    }
    await untilLive(conversation.id, [bobClient, carolClient]);
    const carolBefore = carolClient.of("1").length;

    await gqlOk(
      grouped.url,
      RemoveParticipantDocument,
      { conversationId: conversation.id, userId: carol.id },
      alice.token,
    );
    await sendText(grouped.url, alice, conversation.id, "after the removal");
    await bobClient.until(() => bobClient.of("1").some((f) => f.includes("after the removal")));
    await carolClient.until(() => carolClient.of("1", "complete").length === 1);

    const carolAfter = carolClient.of("1").slice(carolBefore);
    expect(carolAfter.some((f) => f.includes("after the removal"))).toBe(false);
  });
});
