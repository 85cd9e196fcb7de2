import {
  ConversationDocument,
  CreateConversationDocument,
  MeDocument,
  type CreateConversationInput,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createDirect, createGroup, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const CONVERSATIONS = `query($first: Int, $after: String) {
  conversations(first: $first, after: $after) {
    edges { cursor node { id lastSeq } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

/** The inbox as the spec's screen would ask for it: everything per row that could go N+1. */
const INBOX = `{
  conversations(first: 50) {
    edges { node {
      id
      participants { role user { id displayName } }
      lastMessage { id text sender { id } }
      unreadCount
      lastSeq
    } }
  }
}`;

const create = (app: TestApp, user: TestUser, input: CreateConversationInput) =>
  gql(app.url, CreateConversationDocument, { input }, user.token);

describe("Mutation.createConversation", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    app = await startTestApp();
    [alice, bob, carol] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("carol"),
    ]);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("should return the same DIRECT conversation for the same pair and subject, whoever asks", async () => {
    const first = await createDirect(app.url, alice, bob, "listing:42");
    const again = await createDirect(app.url, alice, bob, "listing:42");
    const fromBob = await createDirect(app.url, bob, alice, "listing:42");
    expect(again.id).toBe(first.id);
    expect(fromBob.id).toBe(first.id);

    const otherSubject = await createDirect(app.url, alice, bob, "listing:43");
    const noSubject = await createDirect(app.url, alice, bob);
    const noSubjectAgain = await createDirect(app.url, bob, alice);
    expect(new Set([first.id, otherSubject.id, noSubject.id]).size).toBe(3);
    expect(noSubjectAgain.id).toBe(noSubject.id);
  });

  it("should describe a DIRECT conversation with both users as MEMBER and no title", async () => {
    const data = await gqlOk(
      app.url,
      CreateConversationDocument,
      { input: { kind: "DIRECT", participantIds: [carol.id], subject: "  booking:9f1c  " } },
      alice.token,
    );
    const conversation = data.createConversation;
    expect(conversation).toMatchObject({
      kind: "DIRECT",
      title: null,
      subject: "booking:9f1c",
      lastSeq: 0,
    });
    // Exactly `{ role, user: { id } }`: CreateConversation selects the users' displayName too.
    const participants = conversation.participants.map(({ role, user }) => ({
      role,
      user: { id: user.id },
    }));
    expect(participants).toHaveLength(2);
    expect(participants).toEqual(
      expect.arrayContaining([
        { role: "MEMBER", user: { id: alice.id } },
        { role: "MEMBER", user: { id: carol.id } },
      ]),
    );
  });

  it("should create exactly one DIRECT conversation when both users create it at once", async () => {
    for (let round = 0; round < 5; round++) {
      const subject = `race-${round}`;
      const results = await Promise.all([
        createDirect(app.url, alice, bob, subject),
        createDirect(app.url, bob, alice, subject),
        createDirect(app.url, alice, bob, subject),
        createDirect(app.url, bob, alice, subject),
      ]);
      expect(new Set(results.map((c) => c.id)).size).toBe(1);
    }
  });

  it("should refuse a DIRECT conversation with no other user, two others, or a title with BAD_USER_INPUT", async () => {
    const cases: Array<[CreateConversationInput, string]> = [
      [{ kind: "DIRECT", participantIds: [] }, "participantIds"],
      [{ kind: "DIRECT", participantIds: [alice.id] }, "participantIds"],
      [{ kind: "DIRECT", participantIds: [bob.id, carol.id] }, "participantIds"],
      [{ kind: "DIRECT", participantIds: [bob.id], title: "Hi" }, "title"],
    ];
    for (const [input, field] of cases) {
      const result = await create(app, alice, input);
      expect({ input, code: codeOf(result), field: result.errors?.[0]?.extensions?.field }).toEqual(
        { input, code: "BAD_USER_INPUT", field },
      );
      expect(result.data).toBeNull();
    }
  });

  it("should make the creator of a GROUP its OWNER and everyone else a MEMBER", async () => {
    const data = await gqlOk(
      app.url,
      CreateConversationDocument,
      { input: { kind: "GROUP", participantIds: [bob.id, carol.id, bob.id], title: "Trip" } },
      alice.token,
    );
    const group = data.createConversation;
    expect(group).toMatchObject({ kind: "GROUP", title: "Trip", lastSeq: 0 });
    const roles = Object.fromEntries(
      group.participants.map((p: { role: string; user: { id: string } }) => [p.user.id, p.role]),
    );
    expect(roles).toEqual({ [alice.id]: "OWNER", [bob.id]: "MEMBER", [carol.id]: "MEMBER" });
  });
});

describe("Query.conversation", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;

  beforeAll(async () => {
    app = await startTestApp();
    [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("should return a conversation to its participants", async () => {
    const { id } = await createDirect(app.url, alice, bob, "seen");
    for (const user of [alice, bob]) {
      const data = await gqlOk(app.url, ConversationDocument, { id }, user.token);
      expect(data.conversation).toMatchObject({ id, kind: "DIRECT", subject: "seen" });
    }
  });

  it("should answer NOT_FOUND with a null conversation to a user who is not a participant", async () => {
    const { id } = await createDirect(app.url, alice, bob, "private");
    const result = await gql(app.url, ConversationDocument, { id }, mallory.token);
    expect(codeOf(result)).toBe("NOT_FOUND");
    expect(result.data).toEqual({ conversation: null });

    // Exactly what an id that does not exist at all gets: no hint either way.
    const unknown = await gql(
      app.url,
      ConversationDocument,
      { id: "00000000-0000-4000-8000-000000000000" },
      mallory.token,
    );
    expect(unknown.data).toEqual(result.data);
    expect(unknown.errors?.[0]?.message).toBe(result.errors?.[0]?.message);
  });

  it("should refuse an id that is not a uuid with BAD_USER_INPUT", async () => {
    const result = await gql(app.url, ConversationDocument, { id: "not-a-uuid" }, alice.token);
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
    expect(result.errors?.[0]?.extensions?.field).toBe("id");
  });
});

describe("Query.conversations", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  const inbox = async (user: TestUser, first: number, after?: string) =>
    (await gqlOk(app.url, CONVERSATIONS, { first, after }, user.token)).conversations;

  it("should list the most recent activity first, and move a conversation up when a message arrives", async () => {
    const [dana, ...others] = await Promise.all(
      ["dana", "o1", "o2", "o3"].map((name) => testUser(name)),
    );
    const created: string[] = [];
    for (const other of others) created.push((await createDirect(app.url, dana, other)).id);

    const ids = async () => (await inbox(dana, 10)).edges.map((e: any) => e.node.id);
    expect(await ids()).toEqual([...created].reverse());

    // The oldest one gets a message (from the other side): it is now the most recent.
    await sendText(app.url, others[0], created[0], "bump");
    expect(await ids()).toEqual([created[0], created[2], created[1]]);
    expect((await inbox(dana, 1)).edges[0].node).toEqual({ id: created[0], lastSeq: 1 });
  });

  it("should page with cursors through every conversation exactly once, in order", async () => {
    const [erin, ...others] = await Promise.all(
      Array.from({ length: 8 }, (_, i) => testUser(i ? `o${i}` : "erin")),
    );
    for (const other of others) await createDirect(app.url, erin, other);
    await createGroup(app.url, erin, others.slice(0, 3), "Everyone");

    const all = (await inbox(erin, 100)).edges.map((e: any) => e.node.id);
    expect(all).toHaveLength(8);

    const seen: string[] = [];
    const pages: Array<{ size: number; hasNextPage: boolean; hasPreviousPage: boolean }> = [];
    let after: string | undefined;
    for (;;) {
      const page = await inbox(erin, 3, after);
      seen.push(...page.edges.map((e: any) => e.node.id));
      pages.push({
        size: page.edges.length,
        hasNextPage: page.pageInfo.hasNextPage,
        hasPreviousPage: page.pageInfo.hasPreviousPage,
      });
      expect(page.pageInfo.startCursor).toBe(page.edges[0].cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    expect(pages).toEqual([
      { size: 3, hasNextPage: true, hasPreviousPage: false },
      { size: 3, hasNextPage: true, hasPreviousPage: true },
      { size: 2, hasNextPage: false, hasPreviousPage: true },
    ]);
  });

  it("should return an empty page to a user with no conversations", async () => {
    const loner = await testUser("loner");
    expect(await inbox(loner, 10)).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });

  it("should refuse page sizes 0 and 1000 and a garbage cursor with BAD_USER_INPUT", async () => {
    const user = await testUser("pager");
    for (const variables of [{ first: 0 }, { first: 1000 }, { first: -1 }]) {
      const result = await gql(app.url, CONVERSATIONS, variables, user.token);
      expect({ variables, code: codeOf(result) }).toEqual({ variables, code: "BAD_USER_INPUT" });
      expect(result.errors?.[0]?.extensions?.field).toBe("first");
    }
    const result = await gql(app.url, CONVERSATIONS, { after: "garbage" }, user.token);
    expect(codeOf(result)).toBe("BAD_USER_INPUT");
    expect(result.errors?.[0]?.extensions?.field).toBe("after");
  });
});

describe("Query.conversations statement count", () => {
  // One connection: statements then run one at a time, so which DataLoader batch is dispatched
  // first (participants' users or messages' senders) cannot vary from run to run.
  const env = testEnv({ DATABASE_POOL_MAX: "1" });
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(env);
    // Its passes (a batch delay after each send) are not the inbox's statements.
    await app.app.services.notifications.stop();
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** A user in `count` groups, each with two of five friends and a message from one of them. */
  async function userWithConversations(count: number): Promise<TestUser> {
    const [user, ...friends] = await Promise.all(
      Array.from({ length: 6 }, (_, i) => testUser(i ? `friend${i}` : `in${count}`)),
    );
    for (let start = 0; start < count; start += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, count - start) }, async (_, j) => {
          const i = start + j;
          const members = [friends[i % 5], friends[(i + 1) % 5]];
          const group = await createGroup(app.url, user, members, `g${i}`);
          await sendText(app.url, members[0], group.id, `hello ${i}`);
        }),
      );
    }
    return user;
  }

  /** Runs the inbox query after a warm-up request, and returns its data and statement count. */
  async function measure(user: TestUser) {
    // The first request of a token upserts app_user: keep that out of the count.
    await gqlOk(app.url, MeDocument, {}, user.token);
    app.statements.length = 0;
    const data = await gqlOk(app.url, INBOX, {}, user.token);
    return { edges: data.conversations.edges, statements: [...app.statements] };
  }

  it("should answer the inbox with as many SQL statements for 50 conversations as for 5", async () => {
    const few = await userWithConversations(5);
    const many = await userWithConversations(50);

    const small = await measure(few);
    const large = await measure(many);

    expect(small.edges).toHaveLength(5);
    expect(large.edges).toHaveLength(50);
    for (const { node } of large.edges) {
      expect(node.participants).toHaveLength(3);
      expect(node.participants).toContainEqual({
        role: "OWNER",
        user: { id: many.id, displayName: many.id },
      });
      expect(node.lastMessage.text).toMatch(/^hello \d+$/);
      expect(node.lastMessage.sender.id).not.toBe(many.id);
      expect(node.unreadCount).toBe(1);
      expect(node.lastSeq).toBe(1);
    }
    expect(large.statements.length).toBe(small.statements.length);
    // And a handful at that: one per loader, not one per row.
    expect(large.statements.length).toBeLessThanOrEqual(10);
  });
});
