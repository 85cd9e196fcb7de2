import {
  ConversationsDocument,
  CreateConversationDocument,
  DeleteMessageFullDocument,
  LeaveConversationDocument,
  MeDocument,
  RemoveParticipantDocument,
  SearchMessagesDocument,
  type SearchMessagesQueryVariables,
} from "../../gql/graphql";
import { expectError, gql, gqlOk } from "../../helpers/client";
import { createDirect, createGroup, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, tokenFor, uid, type TestUser } from "../../helpers/tokens";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp(testEnv());
});
afterAll(async () => {
  await app?.stop();
});

const users = (...prefixes: string[]) => Promise.all(prefixes.map((p) => testUser(p)));

function search(user: TestUser, query: string, extra: Partial<SearchMessagesQueryVariables> = {}) {
  return gql(app.url, SearchMessagesDocument, { query, ...extra }, user.token);
}

async function found(
  user: TestUser,
  query: string,
  extra: Partial<SearchMessagesQueryVariables> = {},
) {
  const data = await gqlOk(app.url, SearchMessagesDocument, { query, ...extra }, user.token);
  return data.searchMessages.edges.map((e: any) => e.node.text as string);
}

describe("Query.searchMessages", () => {
  it("should find whole words, phrases and exclusions, newest first", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "search-words");
    for (const text of [
      "the quick brown fox",
      "a lazy dog sleeps",
      "Quick thinking saves the day",
      "brown bread and a fox",
    ]) {
      await sendText(app.url, alice, conversation.id, text);
    }

    expect(await found(bob, "quick")).toEqual([
      "Quick thinking saves the day",
      "the quick brown fox",
    ]);
    expect(await found(bob, "fox brown")).toEqual(["brown bread and a fox", "the quick brown fox"]);
    expect(await found(bob, '"brown fox"')).toEqual(["the quick brown fox"]);
    expect(await found(bob, "fox -quick")).toEqual(["brown bread and a fox"]);
    // Whole words, no stemming.
    expect(await found(bob, "qui")).toEqual([]);
    expect(await found(bob, "foxes")).toEqual([]);
    expect(await found(bob, "sleep")).toEqual([]);
    expect(await found(bob, "sleeps")).toEqual(["a lazy dog sleeps"]);
  });

  it("should page with first and after", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "search-pages");
    for (let i = 1; i <= 5; i++) await sendText(app.url, alice, conversation.id, `needle ${i}`);
    await sendText(app.url, alice, conversation.id, "haystack");

    const seen: number[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    for (;;) {
      const data: any = await gqlOk(
        app.url,
        SearchMessagesDocument,
        { query: "needle", first: 2, after },
        bob.token,
      );
      seen.push(...data.searchMessages.edges.map((e: any) => e.node.seq));
      pages.push(data.searchMessages.pageInfo.hasNextPage);
      if (!data.searchMessages.pageInfo.hasNextPage) break;
      after = data.searchMessages.pageInfo.endCursor;
    }
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toEqual([true, true, false]);
  });

  it("should search only conversations the viewer is in, and refuse another's conversationId with NOT_FOUND", async () => {
    const [alice, bob, mallory] = await users("alice", "bob", "mallory");
    const theirs = await createDirect(app.url, alice, bob, "search-private");
    await sendText(app.url, alice, theirs.id, "the secret handshake");
    const mine = await createDirect(app.url, mallory, bob, "search-own");
    await sendText(app.url, mallory, mine.id, "my own handshake");

    expect(await found(mallory, "handshake")).toEqual(["my own handshake"]);
    expectError(await search(mallory, "handshake", { conversationId: theirs.id }), "NOT_FOUND");
    // One conversation of the viewer's own.
    expect(await found(bob, "handshake")).toHaveLength(2);
    expect(await found(bob, "handshake", { conversationId: theirs.id })).toEqual([
      "the secret handshake",
    ]);
  });

  it("should stop finding a conversation's messages once the viewer is removed", async () => {
    const [alice, bob, carol] = await users("alice", "bob", "carol");
    const group = await createGroup(app.url, alice, [bob, carol]);
    await sendText(app.url, bob, group.id, "plans for the weekend");
    expect(await found(carol, "weekend")).toEqual(["plans for the weekend"]);

    await gqlOk(
      app.url,
      RemoveParticipantDocument,
      { conversationId: group.id, userId: carol.id },
      alice.token,
    );
    expect(await found(carol, "weekend")).toEqual([]);
    expectError(await search(carol, "weekend", { conversationId: group.id }), "NOT_FOUND");
    expect(await found(bob, "weekend")).toEqual(["plans for the weekend"]);
  });

  it("should never find deleted messages", async () => {
    const [alice, bob] = await users("alice", "bob");
    const conversation = await createDirect(app.url, alice, bob, "search-deleted");
    const gone = await sendText(app.url, alice, conversation.id, "regrettable remark");
    await sendText(app.url, alice, conversation.id, "a kinder remark");
    await gqlOk(app.url, DeleteMessageFullDocument, { id: gone.id }, alice.token);
    expect(await found(bob, "remark")).toEqual(["a kinder remark"]);
    expect(await found(bob, "regrettable")).toEqual([]);
  });

  it("should refuse an empty query with BAD_USER_INPUT", async () => {
    const [alice] = await users("alice");
    for (const query of ["", "   "])
      expectError(await search(alice, query), "BAD_USER_INPUT", "query");
  });
});

describe("Query.conversations(search:)", () => {
  it("should match the title, the subject and participants' display names", async () => {
    const alice = await testUser("alice");
    // Display names come from the token's `name` claim, recorded when the user signs in.
    const zeldaId = uid("zelda");
    const zelda = { id: zeldaId, token: await tokenFor(zeldaId, { name: "Zelda Quartermaine" }) };
    const [bob, carol] = await users("bob", "carol");
    for (const user of [zelda, bob, carol]) await gqlOk(app.url, MeDocument, {}, user.token);

    const kayak = await createGroup(app.url, alice, [bob], "Kayak trip");
    const listing = await gqlOk(
      app.url,
      CreateConversationDocument,
      { input: { kind: "DIRECT", participantIds: [carol.id], subject: "listing:4242" } },
      alice.token,
    );
    const withZelda = await createDirect(app.url, alice, zelda, "booking:77");

    const ids = async (term: string) =>
      (
        await gqlOk(app.url, ConversationsDocument, { search: term }, alice.token)
      ).conversations.edges.map((e: any) => e.node.id);
    expect(await ids("kayak")).toEqual([kayak.id]);
    expect(await ids("listing:42")).toEqual([listing.createConversation.id]);
    expect(await ids("quarterm")).toEqual([withZelda.id]);
    expect(await ids("nothing like it")).toEqual([]);
    // Without search: all three, newest activity first.
    expect(await ids("")).toEqual([withZelda.id, listing.createConversation.id, kayak.id]);

    // A participant who leaves no longer matches.
    await gqlOk(app.url, LeaveConversationDocument, { conversationId: withZelda.id }, zelda.token);
    expect(await ids("zelda")).toEqual([]);
  });
});
