import type { GraphQLSchema } from "graphql";
import { getSchema } from "../../src/schema";
import { connected, gqlOk, type WsClient } from "./client";
import { createDirect, createGroup, sendText, signIn } from "./operations";
import { startTestApp, testEnv, type TestApp } from "./app";
import { testUser, type TestUser } from "./tokens";

/**
 * The world of the authorization matrix (test/security/authorization-*.test.ts): alice and bob's
 * conversations, and mallory, who is in neither. The bindings are exported live: each test file
 * (its own module registry) calls useAuthorizationMatrix() and reads them once beforeAll ran.
 */

export const SECRET_TEXT = "zebra-secret-text";
export const SECRET_TITLE = "zebra-secret-title";
export const SECRET_SUBJECT = "zebra-secret-subject";

export const env = testEnv();
export let app: TestApp;
export let schema: GraphQLSchema;
export let alice: TestUser;
export let bob: TestUser;
export let eve: TestUser;
/** The outsider, with a conversation of her own with friend. */
export let mallory: TestUser;
export let friend: TestUser;
export let group: { id: string };
export let direct: { id: string };
/** Alice and bob's second group, where the viewer-scoped cases make things happen. */
export let busy: { id: string };
export let bobsMessage: { id: string };
export let alicesReport: string;
let baseline: unknown;
export let malloryWs: WsClient;
const open: WsClient[] = [];
/** Connections of one case, closed when it ends (each user may hold only a few). */
export const transient: WsClient[] = [];

/** What alice and bob see of their conversations; no case may change it. */
const targetState = async () =>
  Promise.all(
    [group.id, direct.id].map(async (id) => {
      const seen = await gqlOk(
        app.url,
        `query($id: ID!) { conversation(id: $id) {
            id kind title subject lastSeq
            participants { role lastReadSeq user { id } }
            messages { edges { node { id seq text editedAt deletedAt } } }
          } }`,
        { id },
        alice.token,
      );
      return seen.conversation;
    }),
  );

/** Nothing identifying their conversation may appear in what mallory gets. */
export function expectNothingOfTheirs(result: unknown) {
  const text = JSON.stringify(result);
  for (const secret of [SECRET_TEXT, SECRET_TITLE, group.id, direct.id, bobsMessage.id]) {
    expect(text).not.toContain(secret);
  }
}

/** The matrix's hooks, called once inside its describe block. */
export function useAuthorizationMatrix() {
  beforeAll(async () => {
    [app, schema] = await Promise.all([startTestApp(env), getSchema()]);
    [alice, bob, eve, mallory, friend] = await Promise.all(
      ["alice", "bob", "eve", "mallory", "friend"].map((name) => testUser(name)),
    );
    await signIn(app.url, alice, bob, eve, mallory, friend);
    group = await createGroup(app.url, alice, [bob], SECRET_TITLE);
    direct = await createDirect(app.url, alice, bob, SECRET_SUBJECT);
    busy = await createGroup(app.url, alice, [bob], "busy");
    bobsMessage = await sendText(app.url, bob, group.id, `${SECRET_TEXT} one`);
    await sendText(app.url, alice, group.id, `${SECRET_TEXT} two`);
    await sendText(app.url, alice, direct.id, `${SECRET_TEXT} three`);
    const report = await gqlOk(
      app.url,
      `mutation($id: ID!) { report(input: { messageId: $id, reason: SPAM }) { id } }`,
      { id: bobsMessage.id },
      alice.token,
    );
    alicesReport = report.report.id;
    await gqlOk(
      app.url,
      `mutation($id: ID!) { blockUser(userId: $id) }`,
      { id: eve.id },
      alice.token,
    );
    const own = await createDirect(app.url, mallory, friend, "her own");
    await sendText(app.url, friend, own.id, "hello mallory");
    // Alice is online for the presence cases.
    open.push(await connected(app.wsUrl, alice));
    malloryWs = await connected(app.wsUrl, mallory);
    open.push(malloryWs);
    baseline = await targetState();
  });
  afterEach(async () => {
    // Whatever mallory tried, alice and bob's conversations are as they were.
    expect(await targetState()).toEqual(baseline);
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.dispose()));
    await app?.stop();
  });
}
