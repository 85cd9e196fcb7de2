import WebSocket from "ws";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

interface Peer {
  socket: WebSocket;
  pings: number;
  closed: Promise<number>;
}

/** An acknowledged graphql-ws connection; with answer false it never answers a ping. */
async function peer(app: TestApp, user: TestUser, answer = true): Promise<Peer> {
  const socket = new WebSocket(app.wsUrl, "graphql-transport-ws", { autoPong: answer });
  const result: Peer = {
    socket,
    pings: 0,
    closed: new Promise((resolve) => socket.once("close", (code) => resolve(code))),
  };
  socket.on("ping", () => (result.pings += 1));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  socket.send(
    JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${user.token}` } }),
  );
  await new Promise<void>((resolve) =>
    socket.on("message", (data) => {
      if (String(data).includes("connection_ack")) resolve();
    }),
  );
  return result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WebSocket keep-alive", () => {
  let fast: TestApp;
  let slow: TestApp;
  let alice: TestUser;
  const peers: Peer[] = [];

  beforeAll(async () => {
    [fast, slow] = await Promise.all([
      startTestApp(testEnv({ WS_PING_MS: "300" })),
      startTestApp(testEnv({ WS_PING_MS: "60000" })),
    ]);
    alice = await testUser("alice");
  });
  afterAll(async () => {
    for (const p of peers) p.socket.terminate();
    await Promise.all([fast?.stop(), slow?.stop()]);
  });

  it("should drop a peer that does not answer pings within WS_PING_MS and keep one that does", async () => {
    const silent = await peer(fast, alice, false);
    const answering = await peer(fast, alice);
    peers.push(silent, answering);
    // Dropped without a close frame (1006): the peer is taken for gone.
    expect(await silent.closed).toBe(1006);
    await sleep(1_000);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    expect(answering.pings).toBeGreaterThanOrEqual(2);
  });

  it("should ping at WS_PING_MS only, with no other keep-alive beside it", async () => {
    const answering = await peer(slow, alice);
    peers.push(answering);
    // graphql-ws on its own pings every 12 s.
    await sleep(12_500);
    expect(answering.pings).toBe(0);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
  }, 30_000);
});
