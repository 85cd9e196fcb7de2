import { randomUUID } from "node:crypto";
import { buildApp, type App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/core/logger";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import {
  MeDocument,
  MessageAddedDocument,
  SearchMessagesDocument,
  SendMessageDocument,
} from "../gql/graphql";
import { Collector, codeOf, gql, sourceOf, waitForChannel, wsClient } from "../helpers/client";
import { createDatabase } from "../helpers/database";
import { eventually } from "../helpers/eventually";
import { LogCapture } from "../helpers/logs";
import { createDirect, sendText } from "../helpers/operations";
import { RedisServer } from "../helpers/redis-server";
import { testUser } from "../helpers/tokens";

const origin = (url: string) => new URL(url).origin;

async function ready(url: string) {
  const response = await fetch(`${origin(url)}/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function metrics(url: string): Promise<string> {
  const response = await fetch(`${origin(url)}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one sample, e.g. sample(text, "chat_graphql_errors_total", 'code="NOT_FOUND"'). */
function sample(text: string, name: string, labels?: string): number | undefined {
  const pattern = labels ? `${name}{${labels}}` : name;
  const line = text.split("\n").find((l) => l.startsWith(`${pattern} `));
  return line === undefined ? undefined : Number(line.slice(pattern.length + 1));
}

describe("Operations", () => {
  describe("GET /ready", () => {
    let redis: RedisServer;
    let database: Awaited<ReturnType<typeof createDatabase>>;
    let app: TestApp;

    beforeAll(async () => {
      [redis, database] = await Promise.all([RedisServer.start(), createDatabase()]);
      app = await startTestApp(testEnv({ REDIS_URL: redis.url, DATABASE_URL: database.url }));
    });
    afterAll(async () => {
      await app?.stop();
      await redis?.stop();
      await database?.drop();
      jest.restoreAllMocks();
    });

    it("should answer 200 when PostgreSQL and Redis answer, and 503 naming Redis while it is down", async () => {
      expect(await ready(app.url)).toEqual({
        status: 200,
        body: { status: "ready", checks: { postgres: "ok", redis: "ok" } },
      });
      const health = await fetch(`${origin(app.url)}/health`);
      expect(health.status).toBe(200);

      await redis.stop();
      expect(await ready(app.url)).toEqual({
        status: 503,
        body: { status: "unavailable", checks: { postgres: "ok", redis: "unavailable" } },
      });
      // Alive all the same: an orchestrator takes it out of rotation, it does not restart it.
      expect((await fetch(`${origin(app.url)}/health`)).status).toBe(200);

      await redis.start();
      await eventually(async () => (await ready(app.url)).status === 200, "ready again");
    });

    it("should answer 503 naming PostgreSQL when its database is gone", async () => {
      // knex reports the pool's severed connections on the console (restored in afterAll).
      jest.spyOn(console, "log").mockImplementation(() => {});
      await database.drop();
      expect(await ready(app.url)).toEqual({
        status: 503,
        body: { status: "unavailable", checks: { postgres: "unavailable", redis: "ok" } },
      });
    });
  });

  describe("GET /metrics", () => {
    const env = testEnv();
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      // Two instances in one process: each has a registry of its own.
      [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it("should expose connections, subscriptions, messages, delivery latency and errors by code", async () => {
      const initial = await metrics(a.url);
      for (const name of [
        "chat_websocket_connections",
        "chat_subscriptions_active",
        "chat_messages_sent_total",
        "chat_delivery_latency_seconds",
        "chat_graphql_errors_total",
        "chat_notifications_published_total",
        "chat_notification_relay_failures_total",
        "chat_notifications_pending",
        "process_cpu_seconds_total",
      ]) {
        expect(initial).toContain(`# HELP ${name} `);
      }
      expect(sample(initial, "chat_websocket_connections")).toBe(0);

      const [alice, bob, mallory] = await Promise.all([
        testUser("alice"),
        testUser("bob"),
        testUser("mallory"),
      ]);
      const conversation = await createDirect(a.url, alice, bob, "metrics");
      const ws = wsClient(a.wsUrl, bob.token);
      const sub = new Collector(ws.client, MessageAddedDocument, {
        conversationId: conversation.id,
      });
      await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversation.id}:message-added`);
      await sendText(a.url, alice, conversation.id, "measured");
      await sub.take(1);

      expect(codeOf(await gql(a.url, MeDocument))).toBe("UNAUTHENTICATED");
      const intruder = wsClient(a.wsUrl, mallory.token);
      const refused = new Collector(intruder.client, MessageAddedDocument, {
        conversationId: conversation.id,
      });
      await refused.ended();

      const text = await metrics(a.url);
      expect(sample(text, "chat_websocket_connections")).toBe(2);
      expect(sample(text, "chat_subscriptions_active")).toBe(1);
      expect(sample(text, "chat_messages_sent_total", 'kind="TEXT"')).toBe(1);
      expect(sample(text, "chat_delivery_latency_seconds_count")).toBe(1);
      expect(sample(text, "chat_delivery_latency_seconds_bucket", 'le="+Inf"')).toBe(1);
      expect(sample(text, "chat_graphql_errors_total", 'code="UNAUTHENTICATED"')).toBe(1);
      expect(sample(text, "chat_graphql_errors_total", 'code="NOT_FOUND"')).toBe(1);

      // The other instance counted nothing of this.
      const other = await metrics(b.url);
      expect(sample(other, "chat_messages_sent_total", 'kind="TEXT"')).toBeUndefined();
      expect(sample(other, "chat_websocket_connections")).toBe(0);
      expect(sample(other, "chat_delivery_latency_seconds_count")).toBe(0);

      sub.stop();
      await eventually(
        async () => sample(await metrics(a.url), "chat_subscriptions_active") === 0,
        "the subscription to end",
      );
      await Promise.all([ws.dispose(), intruder.dispose()]);
      await eventually(
        async () => sample(await metrics(a.url), "chat_websocket_connections") === 0,
        "the sockets to close",
      );
    });
  });

  describe("request logs", () => {
    const logs = new LogCapture();
    let app: App;
    let url: string;

    beforeAll(async () => {
      app = await buildApp(loadConfig(testEnv()), { logger: createLogger("info", logs) });
      url = await app.start(0);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("should log each request as JSON with its request id, and never a token or message text", async () => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      const conversation = await createDirect(url, alice, bob, "logs");
      const secret = `secret text ${randomUUID()}`;

      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${alice.token}`,
          "x-request-id": "ops-log-1",
        },
        body: JSON.stringify({
          query: sourceOf(SendMessageDocument),
          operationName: "SendMessage",
          variables: { input: { conversationId: conversation.id, text: secret } },
        }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-request-id")).toBe("ops-log-1");

      // Without an id of the caller's, one is made up and returned.
      const anonymous = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: sourceOf(MeDocument) }),
      });
      const generated = anonymous.headers.get("x-request-id");
      expect(generated).toMatch(/^[0-9a-f-]{36}$/);

      // A bad token, and text in a query string, reach the server but not the log.
      const forged = `${bob.token.slice(0, -4)}AAAA`;
      expect(codeOf(await gql(url, MeDocument, {}, forged))).toBe("UNAUTHENTICATED");
      const search = new URL(url);
      search.searchParams.set("query", sourceOf(SearchMessagesDocument));
      search.searchParams.set("variables", JSON.stringify({ query: secret }));
      await fetch(search, {
        headers: { authorization: `Bearer ${bob.token}`, "apollo-require-preflight": "1" },
      });

      // An unexpected failure reaches the client masked, and the log with the request's id.
      jest
        .spyOn(app.services.messages, "search")
        .mockRejectedValueOnce(new Error("search index exploded"));
      const failed = await gql(url, SearchMessagesDocument, { query: secret }, bob.token, {
        "x-request-id": "ops-log-2",
      });
      expect(codeOf(failed)).toBe("INTERNAL_SERVER_ERROR");
      expect(JSON.stringify(failed)).not.toContain("exploded");

      // And over WebSocket: the token in connectionParams, the text in a mutation.
      const ws = wsClient(url.replace(/^http/, "ws"), bob.token);
      const viaWs = `another secret ${randomUUID()}`;
      await new Promise<void>((resolve, reject) =>
        ws.client.subscribe(
          {
            query: sourceOf(SendMessageDocument),
            variables: { input: { conversationId: conversation.id, text: viaWs } },
          },
          { next: () => {}, error: reject, complete: resolve },
        ),
      );
      await ws.dispose();

      await eventually(
        () => logs.entries.filter((e) => e.msg === "request").length >= 6,
        "the request log lines",
      );
      const requests = logs.entries.filter((e) => e.msg === "request");
      expect(requests.find((e) => e.requestId === "ops-log-1")).toMatchObject({
        level: 30,
        service: "chat",
        method: "POST",
        path: "/graphql",
        status: 200,
        operationName: "SendMessage",
        userId: alice.id,
      });
      expect(requests.find((e) => e.requestId === generated)).toMatchObject({ status: 401 });
      expect(logs.entries.find((e) => e.msg === "unexpected error")).toMatchObject({
        level: 50,
        requestId: "ops-log-2",
        err: { message: "search index exploded" },
      });
      expect(requests.every((e) => typeof e.durationMs === "number")).toBe(true);
      expect(requests.some((e) => e.path === "/graphql" && e.method === "GET")).toBe(true);

      if (process.env.SHOW_LOGS) console.log(logs.text);
      for (const forbidden of [alice.token, bob.token, forged, secret, viaWs, "secret text"]) {
        expect(logs.text).not.toContain(forbidden);
      }
      for (const token of [alice.token, bob.token]) {
        // Not even a token's signature or payload part on its own.
        for (const part of token.split(".").slice(1)) expect(logs.text).not.toContain(part);
      }
    });
  });
});
