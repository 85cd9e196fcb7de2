import WebSocket from "ws";
import { MeDocument } from "../gql/graphql";
import { gqlOk } from "./client";
import { createDirect } from "./operations";
import { startTestApp, testEnv, type TestApp } from "./app";
import { testUser, type TestUser } from "./tokens";

/**
 * The instance of the abuse tests (test/security/abuse-*.test.ts), with low limits, and a bare
 * WebSocket to misbehave with. The bindings are exported live: each test file (its own module
 * registry) calls useAbuseApp() and reads them once beforeAll ran.
 */

const PROTOCOL = "graphql-transport-ws";
export const WS_PAYLOAD = 4096;
export const MAX_SUBSCRIPTIONS = 300;
export const MAX_TOKENS = 1000;

export interface RawSocket {
  socket: WebSocket;
  messages: Array<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

/** A bare WebSocket, to send what no graphql-ws client would. */
export function raw(wsUrl: string, protocol: string | null = PROTOCOL): RawSocket {
  const socket = new WebSocket(wsUrl, protocol ?? undefined);
  const messages: Array<Record<string, any>> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  socket.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const opened = new Promise<void>((resolve) => socket.on("open", () => resolve()));
  return { socket, messages, closed, opened };
}

/** Waits until the socket received a message of the type (or closed), and returns it. */
export async function received(s: RawSocket, type: string, id?: string) {
  const find = () => s.messages.find((m) => m.type === type && (id === undefined || m.id === id));
  for (let i = 0; !find() && s.socket.readyState === WebSocket.OPEN; i++) {
    if (i > 500) throw new Error(`no ${type} among ${JSON.stringify(s.messages)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return find();
}

export const env = testEnv({
  MAX_WS_PAYLOAD_BYTES: String(WS_PAYLOAD),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBSCRIPTIONS),
  // Low enough that a document over it fits in one WebSocket frame.
  MAX_TOKENS: String(MAX_TOKENS),
  INTROSPECTION: "false",
});
export let app: TestApp;
export let alice: TestUser;
export let bob: TestUser;
export let conversationId: string;
export const init = () =>
  JSON.stringify({ type: "connection_init", payload: { token: alice.token } });
const health = () => new URL("/health", app.url).toString();

/** The abuse tests' hooks, called once inside their describe block. */
export function useAbuseApp() {
  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    conversationId = (await createDirect(app.url, alice, bob, "abuse")).id;
  });
  afterEach(async () => {
    // Whatever happened, the server still answers, over HTTP and with GraphQL.
    const response = await fetch(health());
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect((await gqlOk(app.url, MeDocument, {}, alice.token)).me.id).toBe(alice.id);
  });
  afterAll(async () => {
    await app?.stop();
  });
}
