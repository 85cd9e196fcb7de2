import type { Client } from "graphql-ws";
import { SignJWT } from "jose";
import { mintToken } from "../../../src/modules/auth/token.service";
import { CreateConversationDocument, MeDocument } from "../../gql/graphql";
import { codeOf, Collector, gql, gqlOk, wsClient, type Operation } from "../../helpers/client";
import { startTestApp, type TestApp } from "../../helpers/app";
import { TEST_JWT_SECRET } from "../../helpers/env";
import { tokenFor, uid } from "../../helpers/tokens";

const now = () => Math.floor(Date.now() / 1000);

/** Runs a query over an open graphql-ws connection and resolves with its single result. */
async function wsQuery<T, V>(client: Client, query: Operation<T, V>) {
  const sub = new Collector(client, query);
  await sub.ended();
  if (sub.errors.length) throw new Error(`GraphQL errors: ${JSON.stringify(sub.errors)}`);
  return sub.values[0];
}

describe("Authentication", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** Every way a request can fail to prove who it is, as an Authorization header value. */
  const badCredentials = async (): Promise<Array<[string, string | null]>> => {
    const id = uid("bad");
    const expired = await mintToken(TEST_JWT_SECRET, id, { expiresIn: now() - 60 });
    const forged = await mintToken("another-secret-that-is-also-long-enough!!", id);
    return [
      ["a missing token", null],
      ["an expired token", `Bearer ${expired}`],
      ["a token signed with another secret", `Bearer ${forged}`],
      ["a token without a subject", `Bearer ${await tokenWithoutSubject()}`],
      ["a garbage bearer token", "Bearer garbage"],
      ["an empty bearer token", "Bearer "],
      ["a non-Bearer scheme", "Basic YWxpY2U6c2VjcmV0"],
    ];
  };

  describe("over HTTP", () => {
    it("should refuse missing, expired, forged and malformed tokens with UNAUTHENTICATED and status 401", async () => {
      for (const [label, authorization] of await badCredentials()) {
        const result = await gql(
          app.url,
          MeDocument,
          {},
          null,
          authorization ? { authorization } : {},
        );
        expect({ label, code: codeOf(result), status: result.status }).toEqual({
          label,
          code: "UNAUTHENTICATED",
          status: 401,
        });
        expect(result.data?.me ?? null).toBeNull();
        // The status travels in the HTTP response, never in the error's extensions.
        expect(result.errors?.[0]?.extensions?.http).toBeUndefined();
      }
    });

    it("should answer introspection without a token", async () => {
      const result = await gql(app.url, `{ __schema { queryType { name } } }`);
      expect(result.status).toBe(200);
      expect(result.data).toEqual({ __schema: { queryType: { name: "Query" } } });
    });

    it("should answer me with the token's subject and name claim", async () => {
      const id = uid("alice");
      const token = await tokenFor(id, { name: "Alice Liddell" });
      const result = await gql(app.url, MeDocument, {}, token);
      expect(result.status).toBe(200);
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ me: { id, displayName: "Alice Liddell" } });
    });

    it("should refuse a token it has accepted once that token expires", async () => {
      const id = uid("brief");
      const token = await mintToken(TEST_JWT_SECRET, id, { expiresIn: now() + 2 });
      for (let i = 0; i < 3; i++)
        expect((await gqlOk(app.url, MeDocument, {}, token)).me.id).toBe(id);
      await new Promise((r) => setTimeout(r, 2_100));
      const result = await gql(app.url, MeDocument, {}, token);
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    });

    it("should refresh displayName when a later token carries another name", async () => {
      const id = uid("renamed");
      const first = await tokenFor(id, { name: "Before" });
      expect((await gqlOk(app.url, MeDocument, {}, first)).me).toEqual({
        id,
        displayName: "Before",
      });

      const second = await tokenFor(id, { name: "After" });
      expect((await gqlOk(app.url, MeDocument, {}, second)).me).toEqual({
        id,
        displayName: "After",
      });

      // Others see the refreshed name too, e.g. as a participant of a shared conversation.
      const friend = uid("friend");
      const friendToken = await tokenFor(friend);
      const created = await gqlOk(
        app.url,
        CreateConversationDocument,
        { input: { kind: "DIRECT", participantIds: [id] } },
        friendToken,
      );
      expect(created.createConversation.participants.map(({ user }) => ({ user }))).toEqual(
        expect.arrayContaining([{ user: { id, displayName: "After" } }]),
      );
    });
  });

  describe("over WebSocket", () => {
    it("should close the socket with 4403 for missing, expired, forged and malformed tokens", async () => {
      for (const [label, authorization] of await badCredentials()) {
        const ws = wsClient(app.wsUrl, null, authorization ? { authorization } : {});
        const { code } = await ws.closed;
        expect({ label, code }).toEqual({ label, code: 4403 });
        await ws.dispose();
      }
    });

    it("should close the socket with 4403 for a forged token passed as connectionParams.token", async () => {
      const forged = await mintToken("another-secret-that-is-also-long-enough!!", uid("eve"));
      const ws = wsClient(app.wsUrl, null, { token: forged });
      expect((await ws.closed).code).toBe(4403);
      await ws.dispose();
    });

    it("should accept a valid token, as authorization or as token, and answer me", async () => {
      const id = uid("alice");
      const token = await tokenFor(id, { name: "Alice" });
      for (const params of [{ authorization: `Bearer ${token}` }, { token }]) {
        const ws = wsClient(app.wsUrl, null, params);
        expect(await wsQuery(ws.client, MeDocument)).toEqual({ me: { id, displayName: "Alice" } });
        await ws.dispose();
      }
    });

    it("should close the connection with 4403 when its token expires", async () => {
      const id = uid("expiring");
      const token = await mintToken(TEST_JWT_SECRET, id, { name: "Soon", expiresIn: now() + 3 });
      const ws = wsClient(app.wsUrl, token);
      // Accepted while the token is valid...
      expect(await wsQuery(ws.client, MeDocument)).toEqual({ me: { id, displayName: "Soon" } });
      // ...and closed by the server once it expires, without the client doing anything.
      expect(await ws.closed).toEqual({ code: 4403, reason: "Token expired" });
      await ws.dispose();
    });
  });
});

/** A correctly signed token that lacks `sub`: the signature is valid, the claims are not. */
function tokenWithoutSubject(): Promise<string> {
  return new SignJWT({ name: "Nobody" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}
