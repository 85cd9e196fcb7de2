import WebSocket from "ws";
import { Redis } from "ioredis";
import {
  LeaveConversationDocument,
  MeDocument,
  PresenceChangedDocument,
  PresenceDocument,
  RemoveParticipantDocument,
} from "../../gql/graphql";
import {
  Collector,
  gql,
  gqlOk,
  sourceOf,
  waitForChannel,
  wsClient,
  type WsClient,
} from "../../helpers/client";
import { startChildServer, type ChildServer } from "../../helpers/child";
import { createDirect, createGroup } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";
import { TEST_REDIS_URL } from "../../helpers/env";

async function until(done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("Timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
        { query: sourceOf(MeDocument) },
        { next: () => {}, error: reject, complete: resolve },
      ),
    );
    return ws;
  };
  const status = async (viewer: TestUser, userId: string) =>
    (await gqlOk(a.url, PresenceDocument, { userIds: [userId] }, viewer.token)).presence[0];
  /** A presence subscription of viewer to userId, past its first value (the current status). */
  const watch = async (viewer: TestUser, userId: string) => {
    const ws = await connect(b, viewer);
    const sub = new Collector(ws.client, PresenceChangedDocument, { userIds: [userId] });
    await waitForChannel(`${env.REDIS_PREFIX}user:${userId}:presence`);
    await sub.take(1);
    sub.values.splice(0);
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
    const sub = new Collector(ws.client, PresenceChangedDocument, {
      userIds: [alice.id, carol.id],
    });
    await waitForChannel(`${env.REDIS_PREFIX}user:${carol.id}:presence`);
    // It starts with what Query.presence answers: alice hidden, carol offline.
    const initial = (await sub.take(2)).map((v) => v.presence);
    expect(initial).toContainEqual({ userId: alice.id, status: "OFFLINE", lastSeenAt: null });
    expect(initial).toContainEqual(
      expect.objectContaining({ userId: carol.id, status: "OFFLINE" }),
    );
    await Promise.all(open.filter((c) => c !== ws).map((c) => c.dispose()));
    await connect(b, carol);
    const [, , event] = await sub.take(3);
    expect(event.presence).toMatchObject({ userId: carol.id, status: "ONLINE" });
    expect(sub.values.filter((v) => v.presence.userId === alice.id)).toHaveLength(1);
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
    const res = await gql(a.url, PresenceDocument, { userIds: ids }, alice.token);
    expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("should turn users who leave together OFFLINE together, in one statement", async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => testUser("leaver")));
    for (const user of users) await createDirect(a.url, user, bob, "leaving");
    const sockets = await Promise.all(users.map((user) => connect(a, user)));
    for (const user of users) expect((await status(bob, user.id)).status).toBe("ONLINE");
    a.statements.length = 0;
    await Promise.all(sockets.map((ws) => ws.dispose()));
    await until(async () => {
      const all = await Promise.all(users.map((user) => status(bob, user.id)));
      return all.every((p) => p.status === "OFFLINE" && p.lastSeenAt !== null);
    });
    const announced = a.statements.filter((sql) =>
      sql.includes("update app_user set last_seen_at"),
    );
    // Batched: users whose grace ends within the batch window share a statement; on a loaded
    // machine the twelve disconnects may spread over a few windows, never one statement each.
    expect(announced.length).toBeLessThanOrEqual(4);
  });

  describe("when a client aborts its handshake", () => {
    it("should leave no connection counted and the user OFFLINE", async () => {
      // connection_init, then gone before the server has admitted it: again and again.
      for (let i = 0; i < 10; i++) {
        const socket = new WebSocket(a.wsUrl, "graphql-transport-ws");
        await new Promise<void>((resolve, reject) => {
          socket.once("open", () => resolve());
          socket.once("error", reject);
        });
        socket.send(
          JSON.stringify({
            type: "connection_init",
            payload: { authorization: `Bearer ${alice.token}` },
          }),
        );
        socket.terminate();
      }
      const redis = new Redis(TEST_REDIS_URL);
      try {
        const counted = async () =>
          Object.values(await redis.hgetall(`${env.REDIS_PREFIX}presence:count:${alice.id}`))
            .map(Number)
            .reduce((sum, n) => sum + n, 0);
        await until(async () => (await counted()) === 0);
        // Past the grace period nothing of those attempts is left.
        await new Promise((r) => setTimeout(r, 600));
        expect(await counted()).toBe(0);
        expect((await status(bob, alice.id)).status).toBe("OFFLINE");
        expect(await redis.hlen(`${env.REDIS_PREFIX}presence:user:${alice.id}`)).toBe(0);
      } finally {
        redis.disconnect();
      }
      // All of the user's connection slots are free.
      for (let i = 0; i < 3; i++) await connect(i % 2 ? a : b, alice);
      expect((await status(bob, alice.id)).status).toBe("ONLINE");
    });
  });

  describe("Subscription.presence", () => {
    it("should start with the current status of each user it names, as Query.presence answers it", async () => {
      const stranger = await testUser("stranger");
      await connect(a, alice);
      await connect(a, stranger);
      const ws = await connect(b, bob);
      const sub = new Collector(ws.client, PresenceChangedDocument, {
        userIds: [alice.id, stranger.id, bob.id],
      });
      const first = (await sub.take(3)).map((v) => v.presence);
      expect(first).toEqual(
        expect.arrayContaining([
          { userId: alice.id, status: "ONLINE", lastSeenAt: null },
          { userId: bob.id, status: "ONLINE", lastSeenAt: null },
          // Not a contact: hidden, as the query shows it.
          { userId: stranger.id, status: "OFFLINE", lastSeenAt: null },
        ]),
      );
    });

    it("should start, without userIds, with the contacts who are ONLINE now", async () => {
      const [carol, dave] = await Promise.all([testUser("carol"), testUser("dave")]);
      await createDirect(a.url, bob, carol, "contacts");
      await createDirect(a.url, bob, dave, "contacts");
      await connect(a, alice);
      await connect(a, carol);
      const ws = await connect(b, bob);
      const sub = new Collector(ws.client, PresenceChangedDocument);
      await waitForChannel(`${env.REDIS_PREFIX}user:${dave.id}:presence`);
      const first = (await sub.take(2)).map((v) => v.presence.userId);
      expect(first.sort()).toEqual([alice.id, carol.id].sort());
      await connect(a, dave);
      const [, , third] = await sub.take(3);
      expect(third.presence).toEqual({ userId: dave.id, status: "ONLINE", lastSeenAt: null });
    });

    it.each([
      ["naming the users", true],
      ["without userIds", false],
    ])(
      "should stop delivering, %s, the changes of users a removed member no longer shares a conversation with",
      async (_label, named) => {
        const [carol, dave] = await Promise.all([testUser("carol"), testUser("dave")]);
        await connect(a, alice);
        const group = await createGroup(a.url, alice, [bob, carol], "removal");
        // Dave shares a conversation with carol that stays: his events are the marker.
        await createDirect(a.url, carol, dave, "marker");
        const ws = await connect(b, carol);
        const ids = [alice.id, bob.id, dave.id];
        const sub = new Collector(
          ws.client,
          PresenceChangedDocument,
          named ? { userIds: ids } : {},
        );
        await waitForChannel(`${env.REDIS_PREFIX}user:${dave.id}:presence`);
        // alice ONLINE (and, when named, bob and dave OFFLINE) first.
        await sub.take(named ? 3 : 1);
        expect(sub.values.map((v) => v.presence)).toContainEqual({
          userId: alice.id,
          status: "ONLINE",
          lastSeenAt: null,
        });
        const before = sub.values.length;

        await gqlOk(
          a.url,
          RemoveParticipantDocument,
          { conversationId: group.id, userId: carol.id },
          alice.token,
        );
        // Alice, seen ONLINE, now reads OFFLINE without lastSeenAt, as the query answers.
        const [hidden] = (await sub.take(before + 1)).slice(before);
        expect(hidden.presence).toEqual({ userId: alice.id, status: "OFFLINE", lastSeenAt: null });
        expect(await status(carol, alice.id)).toEqual(hidden.presence);

        const bobWs = await connect(a, bob);
        await bobWs.dispose();
        await new Promise((r) => setTimeout(r, 500)); // past bob's grace period
        await connect(a, dave);
        const [marker] = (await sub.take(before + 2)).slice(before + 1);
        expect(marker.presence).toMatchObject({ userId: dave.id, status: "ONLINE" });
        const after = sub.values.slice(before).map((v) => v.presence.userId);
        expect(after).toEqual([alice.id, dave.id]);
      },
    );

    it("should show a user who comes back into a DIRECT conversation to the other", async () => {
      const carol = await testUser("carol");
      const direct = await createDirect(a.url, carol, alice, "again");
      await gqlOk(a.url, LeaveConversationDocument, { conversationId: direct.id }, carol.token);
      await connect(a, carol);
      const ws = await connect(b, alice);
      const sub = new Collector(ws.client, PresenceChangedDocument, { userIds: [carol.id] });
      expect((await sub.take(1))[0].presence).toEqual({
        userId: carol.id,
        status: "OFFLINE",
        lastSeenAt: null,
      });
      await createDirect(a.url, carol, alice, "again");
      const [, back] = await sub.take(2);
      expect(back.presence).toEqual({ userId: carol.id, status: "ONLINE", lastSeenAt: null });
    });

    it("should start delivering the changes of users who become visible", async () => {
      const carol = await testUser("carol");
      const ws = await connect(b, carol);
      const sub = new Collector(ws.client, PresenceChangedDocument);
      await waitForChannel(`${env.REDIS_PREFIX}user:${carol.id}:conversation-updated`);
      await connect(a, alice);
      await createDirect(a.url, alice, carol, "later");
      // Alice is ONLINE already: carol learns it when they start sharing a conversation.
      const [first] = await sub.take(1);
      expect(first.presence).toEqual({ userId: alice.id, status: "ONLINE", lastSeenAt: null });
      await connect(a, bob);
      await createGroup(a.url, alice, [bob, carol], "three");
      const [, second] = await sub.take(2);
      expect(second.presence).toEqual({ userId: bob.id, status: "ONLINE", lastSeenAt: null });
    });
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
