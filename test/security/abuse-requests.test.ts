import http from "node:http";
import { MeDocument, SendMessageDocument } from "../gql/graphql";
import { codeOf, Collector, gql, gqlOk, sourceOf, wsClient } from "../helpers/client";
import {
  MAX_TOKENS,
  WS_PAYLOAD,
  alice,
  app,
  conversationId,
  init,
  raw,
  received,
  useAbuseApp,
} from "../helpers/abuse-setup";

/** Abuse by what a request asks: oversized input, expensive queries, introspection. */

describe("Abuse", () => {
  useAbuseApp();

  describe("oversized input", () => {
    it("should refuse a 10k-character text with BAD_USER_INPUT, however the characters are counted", async () => {
      for (const text of ["x".repeat(10_000), "\u{1F600}".repeat(5001), "\uD83D".repeat(10_000)]) {
        const result = await gql(
          app.url,
          SendMessageDocument,
          { input: { conversationId, text } },
          alice.token,
        );
        expect(codeOf(result)).toBe("BAD_USER_INPUT");
        expect(result.errors?.[0]?.extensions?.field).toBe("text");
      }
      // 5000 characters, emoji counting one each, are fine.
      const max = await gql(
        app.url,
        SendMessageDocument,
        { input: { conversationId, text: "\u{1F600}".repeat(5000) } },
        alice.token,
      );
      expect(max.errors).toBeUndefined();
    });

    it("should refuse 1,000 attachments with BAD_USER_INPUT", async () => {
      const attachments = Array.from({ length: 1000 }, (_, i) => ({
        mediaId: `m${i}`,
        url: `https://media.test/${i}.png`,
        mimeType: "image/png",
      }));
      const result = await gql(
        app.url,
        SendMessageDocument,
        { input: { conversationId, attachments } },
        alice.token,
      );
      expect(codeOf(result)).toBe("BAD_USER_INPUT");
      expect(result.errors?.[0]?.extensions?.field).toBe("attachments");
    });

    it("should answer a 10 MB body with 413 and a JSON GraphQL error", async () => {
      const body = JSON.stringify({
        query: sourceOf(SendMessageDocument),
        variables: { input: { conversationId, text: "x".repeat(10 * 1024 * 1024) } },
      });
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body,
      });
      expect(response.status).toBe(413);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({
        errors: [
          { message: "Request body over 1048576 bytes", extensions: { code: "BAD_REQUEST" } },
        ],
      });
    });

    it("should answer a body over the limit sent without Content-Length with 413, then serve the next request", async () => {
      // Chunked: the size is only known while reading, so the server stops counting at the limit.
      const url = new URL(app.url);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const status = await new Promise<number>((resolve, reject) => {
        const request = http.request(
          url,
          { method: "POST", agent, headers: { "content-type": "application/json" } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on("error", reject);
        const chunk = "x".repeat(64 * 1024);
        request.write(`{"query": "{ me { id } }", "pad": "`);
        for (let i = 0; i < 20; i++) request.write(chunk);
        request.end(`"}`);
      });
      expect(status).toBe(413);
      const next = await gql(app.url, MeDocument, {}, alice.token);
      expect(next.errors).toBeUndefined();
      expect(next.data?.me.id).toBe(alice.id);
      agent.destroy();
    });

    it("should refuse a POST whose Content-Type is not JSON with 400 and a JSON GraphQL error", async () => {
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "text/plain", authorization: `Bearer ${alice.token}` },
        body: JSON.stringify({ query: "{ me { id } }" }),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
    });

    it("should refuse a batched array body clearly", async () => {
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body: JSON.stringify(Array.from({ length: 50 }, () => ({ query: "{ me { id } }" }))),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: unknown };
      expect(body.errors).toEqual([
        { message: "Operation batching disabled.", extensions: { code: "BAD_REQUEST" } },
      ]);
    });

    it("should refuse a body that is not JSON with 400 and a JSON GraphQL error", async () => {
      const response = await fetch(app.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"query": "{ me { id } }"`,
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
    });
  });

  describe("expensive queries", () => {
    const expectRefused = (
      result: Awaited<ReturnType<typeof gql>>,
      message: RegExp,
      code = "GRAPHQL_VALIDATION_FAILED",
    ) => {
      expect(result.status).toBe(400);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(result.errors?.map(() => code));
      expect(result.errors?.map((e) => e.message).join("\n")).toMatch(message);
    };

    it("should refuse a query nested deeper than MAX_QUERY_DEPTH", async () => {
      let selection = "id";
      for (let i = 0; i < 8; i++) selection = `lastMessage { conversation { ${selection} } }`;
      const query = `{ conversations { edges { node { ${selection} } } } }`;
      expectRefused(await gql(app.url, query, {}, alice.token), /depth limit of 12 exceeded/);
    });

    it("should refuse too many aliases", async () => {
      const query = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
      expectRefused(await gql(app.url, query, {}, alice.token), /Aliases limit of 15 exceeded/);
    });

    it("should refuse too many directives", async () => {
      // Without aliases: those count against MAX_ALIASES, `__typename` ones included.
      const fields = Array.from({ length: 51 }, () => `__typename @include(if: true)`);
      expectRefused(
        await gql(app.url, `{ ${fields.join(" ")} }`, {}, alice.token),
        /Directives limit of 50 exceeded/,
      );
    });

    it("should refuse a document over MAX_TOKENS as a syntax error (400), not a server error", async () => {
      const query = `{ ${"__typename ".repeat(6000)} }`;
      expectRefused(
        await gql(app.url, query, {}, alice.token),
        /more that 1000 tokens/,
        "GRAPHQL_PARSE_FAILED",
      );
    });

    it("should refuse a document over MAX_TOKENS over WebSocket too, keeping the socket", async () => {
      const s = raw(app.wsUrl);
      await s.opened;
      s.socket.send(init());
      await received(s, "connection_ack");
      const query = `{ ${"a ".repeat(MAX_TOKENS + 500)}}`;
      expect(query.length).toBeLessThan(WS_PAYLOAD);
      s.socket.send(JSON.stringify({ type: "subscribe", id: "long", payload: { query } }));
      expect((await received(s, "error", "long"))?.payload).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/more that \d+ tokens/),
          extensions: { code: "GRAPHQL_PARSE_FAILED" },
        }),
      ]);
      s.socket.close(1000);
      expect((await s.closed).code).toBe(1000);
    });

    it("should apply the same limits over WebSocket, with a clear code", async () => {
      const ws = wsClient(app.wsUrl, alice.token);
      const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
      const sub = new Collector(ws.client, aliases);
      await sub.ended();
      const errors = sub.errors.flat() as Array<{ message: string; extensions: any }>;
      expect(errors.map((e) => e.extensions.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
      expect(errors[0].message).toMatch(/Aliases limit of 15 exceeded/);
      await ws.dispose();
    });
  });

  describe("introspection with INTROSPECTION=false", () => {
    const INTROSPECT = `{ __schema { queryType { name } } }`;

    it("should be refused over HTTP, with or without a token", async () => {
      for (const token of [null, alice.token]) {
        const result = await gql(app.url, INTROSPECT, {}, token);
        expect(result.status).toBe(400);
        expect(codeOf(result)).toBe("GRAPHQL_VALIDATION_FAILED");
        expect(result.data ?? null).toBeNull();
      }
      const type = await gql(app.url, `{ __type(name: "Query") { name } }`, {}, alice.token);
      expect(codeOf(type)).toBe("GRAPHQL_VALIDATION_FAILED");
      // __typename is not introspection.
      expect((await gqlOk(app.url, `{ __typename }`, {}, alice.token)).__typename).toBe("Query");
    });

    it("should be refused over WebSocket too", async () => {
      const ws = wsClient(app.wsUrl, alice.token);
      for (const query of [INTROSPECT, `{ __type(name: "Query") { name } }`]) {
        const sub = new Collector(ws.client, query);
        await sub.ended();
        expect(sub.values).toEqual([]);
        const codes = (sub.errors.flat() as Array<{ extensions: any }>).map(
          (e) => e.extensions.code,
        );
        expect(codes.length).toBeGreaterThan(0);
        expect(new Set(codes)).toEqual(new Set(["GRAPHQL_VALIDATION_FAILED"]));
      }
      await ws.dispose();
    });
  });
});
