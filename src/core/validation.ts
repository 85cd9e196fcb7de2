import { BadUserInputError } from "./errors";

/** Trims; empty becomes null; longer than max is refused. Length counts Unicode code points. */
export function optionalText(
  value: string | null | undefined,
  field: string,
  max: number,
): string | null {
  const trimmed = value?.trim() ?? "";
  if (!trimmed) return null;
  if (codePoints(trimmed) > max) {
    throw new BadUserInputError(field, `${field} must be at most ${max} characters`);
  }
  return trimmed;
}

export function codePoints(value: string): number {
  let count = 0;
  // The string iterator pairs surrogates and yields a lone one on its own, so each counts once.
  for (const _ of value) count++;
  return count;
}

/** Postgres rejects NUL in text; refuse it up front with a clear error instead of a 500. */
export function assertNoNul(value: string, field: string): void {
  if (value.includes("\u0000"))
    throw new BadUserInputError(field, `${field} contains a NUL character`);
}

/** Half of a surrogate pair without its other half: not a character, and not valid UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/**
 * For text that is stored: no NUL (PostgreSQL refuses it) and no lone surrogate (its UTF-8 would
 * store U+FFFD, so the answer would show what was sent and history what was stored). JSON lets a
 * client send both; a GraphQL string literal cannot hold a lone surrogate either.
 */
export function assertStorable(value: string, field: string): void {
  assertNoNul(value, field);
  if (LONE_SURROGATE.test(value)) {
    throw new BadUserInputError(
      field,
      `${field} contains a lone UTF-16 surrogate (half a character)`,
    );
  }
}

/** Lone surrogates replaced by U+FFFD, as UTF-8 stores them: for text we cannot refuse. */
export function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATES, "\ufffd");
}

/** At most max code points, never half a surrogate pair. */
export function truncate(value: string, max: number): string {
  return codePoints(value) <= max ? value : Array.from(value).slice(0, max).join("");
}

/** Escapes LIKE wildcards so user input matches literally. */
export function likePattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
