import { Collector, gql, gqlOk, waitForChannel, wsClient, type WsClient } from "../helpers/client";
import { startChildServer, type ChildServer } from "../helpers/child";
import { createDirect } from "../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { testUser, type TestUser } from "../helpers/tokens";

const PRESENCE = `subscription($ids: [ID!]) { presence(userIds: $ids) { userId status lastSeenAt } }`;
const QUERY = `query($ids: [ID!]!) { presence(userIds: $ids) { userId status lastSeenAt } }`;

describe("Presence", () => {
  const env = testEnv({
    PRESENCE_HEARTBEAT_MS: "200",
    PRESENCE_TTL_MS: "1000",
    PRESENCE_GRACE_MS: "300",
    MAX_CONNECTIONS_PER_USER: "3",
  });
  let a: TestApp;
  let b: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  const open: WsClient[] = [];
  const connect = async (app: { wsUrl: string }, user: TestUser) => {
    const ws = wsClient(app.wsUrl, user.token);
    open.push(ws);
    // A connection counts once acknowledged: a query over it proves that.
    await new Promise<void>((resolve, reject) =>
      ws.client.subscribe(
        { query: "{ me { id } }" },
        { next: () => {}, error: reject, complete: resolve },
      ),
    );
    return ws;
  };
  const status = async (viewer: TestUser, userId: string) =>
    (await gqlOk(a.url, QUERY, { ids: [userId] }, viewer.token)).presence[0];
  const watch = async (viewer: TestUser, userId: string) => {
    const ws = await connect(b, viewer);
    const sub = new Collector(ws.client, PRESENCE, { ids: [userId] });
    await waitForChannel(`${env.REDIS_PREFIX}user:${userId}:presence`);
    return sub;
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  beforeEach(async () => {
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    await createDirect(a.url, alice, bob, "presence");
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.dispose()));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("should go ONLINE with the first connection and OFFLINE with lastSeenAt after the last, without flicker across devices and instances", async () => {
    const sub = await watch(bob, alice.id);
    const phone = await connect(a, alice);
    const laptop = await connect(b, alice);
    expect((await sub.take(1))[0].presence.status).toBe("ONLINE");
    expect((await status(bob, alice.id)).status).toBe("ONLINE");
    await phone.dispose();
    // A quick reconnect within the grace period causes nothing either.
    const again = await connect(a, alice);
    await laptop.dispose();
    await again.dispose();
    const [, offline] = await sub.take(2);
    expect(offline.presence).toMatchObject({ userId: alice.id, status: "OFFLINE" });
    expect(offline.presence.lastSeenAt).not.toBeNull();
    expect(sub.values).toHaveLength(2);
    expect((await status(bob, alice.id)).lastSeenAt).not.toBeNull();
  });

  it("should hide presence from users who share no conversation", async () => {
    const stranger = await testUser("stranger");
    await connect(a, alice);
    expect(await status(stranger, alice.id)).toEqual({
      userId: alice.id,
      status: "OFFLINE",
      lastSeenAt: null,
    });
    expect((await status(bob, alice.id)).status).toBe("ONLINE");
    // Carol shares a conversation with the stranger: her events are the marker.
    const carol = await testUser("carol");
    await createDirect(a.url, stranger, carol, "marker");
    const ws = await connect(a, stranger);
    const sub = new Collector(ws.client, PRESENCE, { ids: [alice.id, carol.id] });
    await waitForChannel(`${env.REDIS_PREFIX}user:${carol.id}:presence`);
    await Promise.all(open.filter((c) => c !== ws).map((c) => c.dispose()));
    await connect(b, carol);
    const [event] = await sub.take(1);
    expect(event.presence.userId).toBe(carol.id);
    expect(sub.values.every((v) => v.presence.userId !== alice.id)).toBe(true);
  });

  it("should refuse more than MAX_CONNECTIONS_PER_USER connections across instances with 4429", async () => {
    await connect(a, alice);
    await connect(b, alice);
    await connect(a, alice);
    const fourth = wsClient(b.wsUrl, alice.token);
    open.push(fourth);
    expect((await fourth.closed).code).toBe(4429);
  });

  it("should refuse too many user ids with BAD_USER_INPUT", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);
    const res = await gql(a.url, QUERY, { ids }, alice.token);
    expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  describe("when an instance is killed", () => {
    let child: ChildServer;
    afterEach(() => {
      child?.process.kill("SIGKILL");
    });

    it("should turn its users OFFLINE within the presence TTL", async () => {
      child = await startChildServer({ ...env, PORT: "0" });
      const sub = await watch(bob, alice.id);
      const ws = wsClient(child.wsUrl, alice.token);
      open.push(ws);
      expect((await sub.take(1))[0].presence.status).toBe("ONLINE");
      child.process.kill("SIGKILL");
      await child.exited;
      // Heartbeat 200 ms and TTL 1 s here; the defaults (5 s, 15 s) keep it under 30 s.
      const [, offline] = await sub.take(2, 10_000);
      expect(offline.presence).toMatchObject({ userId: alice.id, status: "OFFLINE" });
    }, 90_000);
  });
});
