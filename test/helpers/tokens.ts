import { randomUUID } from "node:crypto";
import { mintToken, type MintOptions } from "../../src/modules/auth/token.service";
import { TEST_JWT_SECRET } from "./env";

/** A user id no other test uses. */
export function uid(prefix = "user"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function tokenFor(userId: string, options: MintOptions = {}): Promise<string> {
  return mintToken(TEST_JWT_SECRET, userId, { name: userId, ...options });
}

export interface TestUser {
  id: string;
  token: string;
}

export async function testUser(prefix = "user", options: MintOptions = {}): Promise<TestUser> {
  const id = uid(prefix);
  return { id, token: await tokenFor(id, options) };
}
