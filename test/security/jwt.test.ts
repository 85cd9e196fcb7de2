import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWTPayload,
} from "jose";
import { MeDocument } from "../gql/graphql";
import { codeOf, gql, wsClient } from "../helpers/client";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { TEST_JWT_SECRET } from "../helpers/env";
import { uid } from "../helpers/tokens";

const ISSUER = "https://issuer.test";
const AUDIENCE = "chat-api";
const now = () => Math.floor(Date.now() / 1000);
const secret = (value: string) => new TextEncoder().encode(value);

type Forge = () => Promise<string>;

/** Claims of a token the server accepts; each attack changes one thing. */
function claims(sub: string, extra: JWTPayload = {}): JWTPayload {
  return { sub, iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 3600, ...extra };
}

function hs256(payload: JWTPayload, key = secret(TEST_JWT_SECRET), alg = "HS256") {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

/** The request is refused over HTTP with 401 UNAUTHENTICATED and over graphql-ws with 4403. */
async function expectRefused(app: TestApp, label: string, token: string) {
  const result = await gql(app.url, MeDocument, {}, token);
  expect({ label, status: result.status, code: codeOf(result), data: result.data ?? null }).toEqual(
    {
      label,
      status: 401,
      code: "UNAUTHENTICATED",
      data: null,
    },
  );
  // No detail of why: the same two messages for every forgery.
  expect(result.errors?.[0]?.message).toMatch(
    /^(Invalid token|Token expired|Invalid token subject)$/,
  );
  for (const params of [{ authorization: `Bearer ${token}` }, { token }]) {
    const ws = wsClient(app.wsUrl, null, params);
    const { code } = await ws.closed;
    expect({ label, code }).toEqual({ label, code: 4403 });
    await ws.dispose();
  }
}

async function expectAccepted(app: TestApp, label: string, token: string, sub: string) {
  const result = await gql(app.url, MeDocument, {}, token);
  const data = result.data && { me: { id: result.data.me.id } };
  expect({ label, data, errors: result.errors }).toEqual({
    label,
    data: { me: { id: sub } },
    errors: undefined,
  });
}

describe("JWT attacks", () => {
  describe("with JWT_SECRET (HS256), JWT_ISSUER and JWT_AUDIENCE", () => {
    let app: TestApp;
    let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };

    beforeAll(async () => {
      [app, rsa] = await Promise.all([
        startTestApp(testEnv({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })),
        generateKeyPair("RS256"),
      ]);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("should accept a correct token (the control for every attack below)", async () => {
      const sub = uid("good");
      await expectAccepted(app, "correct", await hs256(claims(sub)), sub);
    });

    const attacks: Array<[string, (sub: string) => Promise<string>]> = [
      ["alg none", async (sub) => new UnsecuredJWT(claims(sub)).encode()],
      [
        "alg none with the genuine signature left in place",
        async (sub) => {
          const [, payload, signature] = (await hs256(claims(sub))).split(".");
          return `${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`;
        },
      ],
      ["alg NONE in capitals", async (sub) => `${b64({ alg: "NONE" })}.${b64(claims(sub))}.`],
      [
        "an RS256 token from someone else's key",
        async (sub) =>
          new SignJWT(claims(sub)).setProtectedHeader({ alg: "RS256" }).sign(rsa.privateKey),
      ],
      [
        "HS256 signed with a public key's PEM as the secret",
        async (sub) => hs256(claims(sub), secret(await exportSPKI(rsa.publicKey))),
      ],
      [
        "HS512 with the right secret (algorithm not allowed)",
        async (sub) => hs256(claims(sub), secret(TEST_JWT_SECRET), "HS512"),
      ],
      [
        "a wrong key",
        async (sub) => hs256(claims(sub), secret("another-secret-that-is-long-enough-too!!")),
      ],
      ["an empty signature", async (sub) => (await hs256(claims(sub))).replace(/[^.]+$/, "")],
      ["expired", async (sub) => hs256(claims(sub, { iat: now() - 7200, exp: now() - 60 }))],
      [
        "not yet valid (nbf in the future)",
        async (sub) => hs256(claims(sub, { nbf: now() + 3600 })),
      ],
      ["a wrong issuer", async (sub) => hs256(claims(sub, { iss: "https://evil.test" }))],
      ["no issuer", async (sub) => hs256(claims(sub, { iss: undefined }))],
      ["a wrong audience", async (sub) => hs256(claims(sub, { aud: "other-api" }))],
      ["no audience", async (sub) => hs256(claims(sub, { aud: undefined }))],
      [
        "a tampered payload (sub changed, signature kept)",
        async (sub) => {
          const [header, payload, signature] = (await hs256(claims(uid("victim")))).split(".");
          const forged = b64({ ...decode(payload), sub });
          return `${header}.${forged}.${signature}`;
        },
      ],
      [
        "a tampered header (alg changed, signature kept)",
        async (sub) => {
          const [, payload, signature] = (await hs256(claims(sub))).split(".");
          return `${b64({ alg: "HS384", typ: "JWT" })}.${payload}.${signature}`;
        },
      ],
      ["no sub", async () => hs256(claims("x", { sub: undefined }))],
      ["no exp", async (sub) => hs256(claims(sub, { exp: undefined }))],
      ["a non-string sub", async () => hs256({ ...claims("x"), sub: 42 as unknown as string })],
      ["a sub with spaces", async () => hs256(claims("alice smith"))],
      ["a sub of 129 characters", async () => hs256(claims("a".repeat(129)))],
      ["a malformed token", async () => "not.a.jwt"],
      [
        "two parts only",
        async (sub) => (await hs256(claims(sub))).split(".").slice(0, 2).join("."),
      ],
    ];

    it.each(attacks)(
      "should refuse %s over HTTP (401) and WebSocket (4403)",
      async (label, forge) => {
        const sub = uid("attacker");
        await expectRefused(app, label, await forge(sub));
        // Nothing was recorded for the forged subject: a valid token for it starts from scratch.
        const fresh = await hs256(claims(sub));
        const result = await gql(
          app.url,
          `{ me { id } conversations { edges { cursor } } }`,
          {},
          fresh,
        );
        expect(result.data).toEqual({ me: { id: sub }, conversations: { edges: [] } });
      },
    );
  });

  describe("with JWKS_URL (asymmetric keys)", () => {
    let jwks: http.Server;
    let app: TestApp;
    let real: { publicKey: CryptoKey; privateKey: CryptoKey };
    let attacker: { publicKey: CryptoKey; privateKey: CryptoKey };
    let attackerJwksUrl: string;
    const kid = "key-1";

    beforeAll(async () => {
      [real, attacker] = await Promise.all([generateKeyPair("RS256"), generateKeyPair("RS256")]);
      const keys = {
        real: { keys: [{ ...(await exportJWK(real.publicKey)), kid, alg: "RS256", use: "sig" }] },
        attacker: {
          keys: [{ ...(await exportJWK(attacker.publicKey)), kid, alg: "RS256", use: "sig" }],
        },
      };
      jwks = http.createServer((req, res) => {
        const body = req.url === "/attacker.json" ? keys.attacker : keys.real;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      });
      await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
      const { port } = jwks.address() as AddressInfo;
      attackerJwksUrl = `http://127.0.0.1:${port}/attacker.json`;
      app = await startTestApp(
        testEnv({ JWT_SECRET: "", JWKS_URL: `http://127.0.0.1:${port}/jwks.json` }),
      );
    });
    afterAll(async () => {
      await app?.stop();
      jwks?.closeAllConnections();
      await new Promise((resolve) => jwks?.close(resolve));
    });

    const rs256 = (sub: string, key: CryptoKey, header: Record<string, unknown> = {}) =>
      new SignJWT({ sub, exp: now() + 3600 })
        .setProtectedHeader({ alg: "RS256", kid, ...header })
        .sign(key);

    it("should accept an RS256 token signed with the published key", async () => {
      const sub = uid("good");
      await expectAccepted(app, "correct", await rs256(sub, real.privateKey), sub);
    });

    it("should refuse HS/RS confusion, alg none, foreign keys and key-location headers", async () => {
      const pem = await exportSPKI(real.publicKey);
      const jwk = JSON.stringify(await exportJWK(real.publicKey));
      const forged: Array<[string, Forge]> = [
        [
          "HS256 signed with the public key's PEM as the secret",
          (s = uid()) =>
            new SignJWT({ sub: s, exp: now() + 3600 })
              .setProtectedHeader({ alg: "HS256", kid })
              .sign(secret(pem)),
        ],
        [
          "HS256 signed with the public JWK as the secret",
          (s = uid()) =>
            new SignJWT({ sub: s, exp: now() + 3600 })
              .setProtectedHeader({ alg: "HS256", kid })
              .sign(secret(jwk)),
        ],
        ["alg none", async () => new UnsecuredJWT({ sub: uid(), exp: now() + 3600 }).encode()],
        ["another key with the same kid", () => rs256(uid(), attacker.privateKey)],
        [
          "another key announced by a jku header",
          () => rs256(uid(), attacker.privateKey, { jku: attackerJwksUrl }),
        ],
        [
          "another key embedded as a jwk header",
          async () =>
            rs256(uid(), attacker.privateKey, { jwk: await exportJWK(attacker.publicKey) }),
        ],
        [
          "an expired token with the published key",
          () =>
            new SignJWT({ sub: uid(), exp: now() - 60 })
              .setProtectedHeader({ alg: "RS256", kid })
              .sign(real.privateKey),
        ],
      ];
      for (const [label, forge] of forged) await expectRefused(app, label, await forge());
    });
  });
});
