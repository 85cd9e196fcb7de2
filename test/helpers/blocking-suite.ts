import { BlockUserDocument, SendMessageDocument, UnblockUserDocument } from "../gql/graphql";
import { startTestApp, testEnv, type TestApp } from "./app";
import { connected, gql, gqlOk, type WsClient } from "./client";
import { signIn } from "./operations";
import { testUser, type TestUser } from "./tokens";

/**
 * What the blocking test files share: one instance (presence without grace), connections closed
 * after each test, and the operations they use. Call it inside the file's describe("Blocking").
 * `app` is filled in by beforeAll and stays the same object, so a file may hold it at once.
 */
export function blockingSuite() {
  const env = testEnv({ PRESENCE_GRACE_MS: "0" });
  const app = {} as TestApp;
  const open: WsClient[] = [];

  const block = (by: TestUser, target: TestUser) =>
    gqlOk(app.url, BlockUserDocument, { userId: target.id }, by.token);
  const unblock = (by: TestUser, target: TestUser) =>
    gqlOk(app.url, UnblockUserDocument, { userId: target.id }, by.token);
  const send = (from: TestUser, conversationId: string, text: string) =>
    gql(app.url, SendMessageDocument, { input: { conversationId, text } }, from.token);
  const connect = async (user: TestUser) => {
    const ws = await connected(app.wsUrl, user);
    open.push(ws);
    return ws;
  };
  /** Three users who have all signed in: a pair and a third one, the marker. */
  const people = async () => {
    const users = await Promise.all([testUser("alice"), testUser("bob"), testUser("carol")]);
    await signIn(app.url, ...users);
    return users;
  };

  beforeAll(async () => {
    Object.assign(app, await startTestApp(env));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.dispose()));
  });
  afterAll(async () => {
    await app.stop?.();
  });

  return { env, app, open, block, unblock, send, connect, people };
}
