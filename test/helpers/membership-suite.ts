import { LeaveConversationDocument, RemoveParticipantDocument } from "../gql/graphql";
import { startTestApp, testEnv, type TestApp } from "./app";
import { channels } from "./channels";
import { disposeAll, gql, wsClient, type WsClient } from "./client";
import { messagesOf } from "./operations";
import { testUser, type TestUser } from "./tokens";

/**
 * What the membership test files share: two instances on one env (so they share Redis channels),
 * sockets closed after each test, and the operations they use. Call it at a file's top level.
 * `a` and `b` are filled in by beforeAll and stay the same objects, so a file may hold them at once.
 */
export function membershipSuite() {
  const env = testEnv();
  const channel = channels(env.REDIS_PREFIX);
  const a = {} as TestApp;
  const b = {} as TestApp;
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    const [first, second] = await Promise.all([startTestApp(env), startTestApp(env)]);
    Object.assign(a, first);
    Object.assign(b, second);
  });
  afterEach(async () => {
    await disposeAll(sockets);
  });
  afterAll(async () => {
    await Promise.all([a.stop?.(), b.stop?.()]);
  });

  function connect(app: TestApp, user: TestUser) {
    const ws = wsClient(app.wsUrl, user.token);
    sockets.push(ws);
    return ws.client;
  }

  async function users(...prefixes: string[]) {
    return Promise.all(prefixes.map((p) => testUser(p)));
  }

  const remove = (by: TestUser, id: string, user: TestUser) =>
    gql(a.url, RemoveParticipantDocument, { conversationId: id, userId: user.id }, by.token);
  const leave = (user: TestUser, id: string) =>
    gql(a.url, LeaveConversationDocument, { conversationId: id }, user.token);

  /** The conversation's newest message, which a membership change makes a SYSTEM notice. */
  async function lastMessage(user: TestUser, id: string) {
    const messages = await messagesOf(a.url, user, id);
    return messages[messages.length - 1];
  }

  return { channel, a, b, connect, users, remove, leave, lastMessage };
}
