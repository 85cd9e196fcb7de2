import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { JwtConfig } from "../../config";
import { UnauthenticatedError } from "../../core/errors";
import { isUserId } from "../../core/ids";
import { truncate, wellFormed } from "../../core/validation";
import type { Viewer } from "./viewer";

const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "EdDSA",
];

export type VerifyToken = (token: string) => Promise<Viewer>;

/** Verifies access tokens: HS256 with the shared secret, or keys from the JWKS URL; exp always. */
export function createTokenVerifier(config: JwtConfig): VerifyToken {
  const options = {
    algorithms: config.jwksUrl ? ASYMMETRIC : ["HS256"],
    issuer: config.issuer ?? undefined,
    audience: config.audience ?? undefined,
    requiredClaims: ["exp", "sub"],
  };
  // Imported once: given the raw bytes, jose imports an HMAC key on every verification (about 2%
  // of a sendMessage's CPU in a profile).
  const secret = config.secret
    ? crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(config.secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      )
    : null;
  const jwks: JWTVerifyGetKey | null = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl))
    : null;

  const verify = async (token: string): Promise<Viewer> => {
    let payload: JWTPayload;
    try {
      payload = jwks
        ? (await jwtVerify(token, jwks, options)).payload
        : (await jwtVerify(token, await secret!, options)).payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new UnauthenticatedError("Token expired");
      if (error instanceof joseErrors.JOSEError) throw new UnauthenticatedError("Invalid token");
      throw error;
    }
    if (typeof payload.sub !== "string" || !isUserId(payload.sub)) {
      throw new UnauthenticatedError("Invalid token subject");
    }
    // A claim cannot be refused like input: stored as UTF-8 stores it, and never cut mid-character.
    const name =
      typeof payload.name === "string" ? wellFormed(truncate(payload.name.trim(), 200)) : "";
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === "string")
      : [];
    return Object.freeze({
      id: payload.sub,
      displayName: name || null,
      roles: Object.freeze(roles) as string[],
      expiresAt: payload.exp! * 1000,
    });
  };

  // The same token string verifies the same way until it expires: remembered for a while, it
  // skips the signature check (about 8% of a sendMessage over HTTP in a profile).
  const verified = new Map<string, { viewer: Viewer; until: number }>();
  return async (token) => {
    const now = Date.now();
    const known = verified.get(token);
    if (known && known.until > now) return known.viewer;
    if (known) verified.delete(token);
    const viewer = await verify(token);
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(token, { viewer, until: Math.min(viewer.expiresAt, now + VERIFIED_TTL_MS) });
    return viewer;
  };
}

/** How long a verified token is remembered (never past its exp), and how many at most. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export interface MintOptions {
  name?: string;
  roles?: string[];
  expiresIn?: string | number;
  issuer?: string | null;
  audience?: string | null;
}

/** Signs an HS256 access token; used by `npm run token` and by tests. */
export async function mintToken(secret: string, sub: string, options: MintOptions = {}) {
  const jwt = new SignJWT({
    ...(options.name ? { name: options.name } : {}),
    ...(options.roles?.length ? { roles: options.roles } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "24h");
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** The bearer token of an Authorization header value, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match ? match[1] : null;
}

/** The token of graphql-ws connectionParams: `authorization` (with or without Bearer) or `token`. */
export function connectionParamsToken(params: Record<string, unknown> | undefined): string | null {
  const value = params?.authorization ?? params?.Authorization ?? params?.token;
  if (typeof value !== "string") return null;
  return bearerToken(value) ?? (value.trim() || null);
}
