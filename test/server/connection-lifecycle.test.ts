import {
  CLOSE_FORBIDDEN,
  CLOSE_TOO_MANY_CONNECTIONS,
  ConnectionLifecycle,
  type ConnectionState,
} from "../../src/server/connection-lifecycle";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { eventually } from "../helpers/eventually";
import { testUser } from "../helpers/tokens";

/** A socket as far as the lifecycle goes: it only ever closes one, with a code. */
function fakeSocket() {
  const closes: Array<{ code: number; reason: string }> = [];
  return { closes, close: (code: number, reason: string) => closes.push({ code, reason }) };
}

const connection = (socket = fakeSocket()): ConnectionState & { socket: typeof socket } => ({
  socket,
});

/**
 * The connection lifecycle on the real services (PostgreSQL, Redis, tokens), without a WebSocket:
 * what a client would see as the close code of its socket.
 */
describe("Connection lifecycle without a socket", () => {
  let test: TestApp;
  let lifecycle: ConnectionLifecycle;

  beforeAll(async () => {
    test = await startTestApp(testEnv({ MAX_CONNECTIONS_PER_USER: "1" }));
    lifecycle = new ConnectionLifecycle(test.app.services);
  });

  afterAll(async () => {
    await test?.stop();
  });

  it("should refuse a connection without a token or with a bad one, closing nothing itself", async () => {
    for (const params of [undefined, {}, { authorization: "Bearer not-a-token" }]) {
      const c = connection();
      expect(await lifecycle.open(c, params)).toBe(false);
      expect(c.viewer).toBeUndefined();
      expect(c.socket.closes).toEqual([]);
    }
  });

  it("should admit a valid token, refuse a second connection with 4429, and free the slot on close", async () => {
    const alice = await testUser("alice");
    const first = connection();
    expect(await lifecycle.open(first, { authorization: `Bearer ${alice.token}` })).toBe(true);
    expect(first.viewer?.id).toBe(alice.id);

    const second = connection();
    expect(await lifecycle.open(second, { authorization: `Bearer ${alice.token}` })).toBe(false);
    expect(second.socket.closes).toEqual([
      { code: CLOSE_TOO_MANY_CONNECTIONS, reason: expect.any(String) },
    ]);

    await lifecycle.close(first);
    await lifecycle.close(second);
    const third = connection();
    expect(await lifecycle.open(third, { authorization: `Bearer ${alice.token}` })).toBe(true);
    await lifecycle.close(third);
  });

  it("should close an admitted connection with 4403 when its token expires", async () => {
    const bob = await testUser("bob", { expiresIn: "2s" });
    const c = connection();
    expect(await lifecycle.open(c, { authorization: `Bearer ${bob.token}` })).toBe(true);
    await eventually(() => c.socket.closes.length > 0, "the expiry close", 5_000);
    expect(c.socket.closes).toEqual([{ code: CLOSE_FORBIDDEN, reason: "Token expired" }]);
    await lifecycle.close(c);
  });

  it("should release what an admission took when the close comes while it is still running", async () => {
    const carol = await testUser("carol");
    const c = connection();
    const opening = lifecycle.open(c, { authorization: `Bearer ${carol.token}` });
    await lifecycle.close(c);
    expect(await opening).toBe(false);
    // The slot the aborted admission took is free again.
    const next = connection();
    expect(await lifecycle.open(next, { authorization: `Bearer ${carol.token}` })).toBe(true);
    await lifecycle.close(next);
  });
});
