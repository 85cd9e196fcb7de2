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

/** Escapes LIKE wildcards so user input matches literally. */
export function likePattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
