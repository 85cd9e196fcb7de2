import fc from "fast-check";
import { loadConfig } from "../../src/config";
import { BadUserInputError } from "../../src/core/errors";
import { encodeCursor } from "../../src/core/pagination";

/** What the property tests (test/security/properties-*.test.ts) draw from and check with. */

export const MAX_SEQ = 2_147_483_647;
export const limits = loadConfig({}).limits;
export const TAGS = ["seq", "activity", "search", "report"] as const;

/** Any UTF-16 string, lone surrogates included: what JSON.parse can hand a resolver. */
export const utf16 = (maxLength = 300) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxLength,
  });
const base64url = (maxLength = 300) =>
  fc.string({
    unit: fc.constantFrom(
      ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/".split(""),
    ),
    maxLength,
  });
/** Strings a client might send as a cursor: noise, base64url noise, and real cursors altered. */
export const anyCursor = fc.oneof(
  utf16(),
  fc.string({ unit: "binary", maxLength: 300 }),
  base64url(),
  fc.tuple(fc.constantFrom(...TAGS), utf16(120)).map(([tag, value]) => encodeCursor(tag, value)),
  fc
    .tuple(fc.constantFrom(...TAGS), utf16(120), fc.nat(), fc.string({ maxLength: 3 }))
    .map(([tag, value, at, junk]) => {
      const cursor = encodeCursor(tag, value);
      const i = at % (cursor.length + 1);
      return cursor.slice(0, i) + junk + cursor.slice(i + 1);
    }),
);

/** Runs fn; it must succeed or throw BadUserInputError naming the field, and nothing else. */
export function onlyBadUserInput<T>(
  field: string,
  fn: () => T,
): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    return { ok: false };
  }
}
