import { BadUserInputError } from "./errors";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** Token subjects are opaque; keep them printable and bounded. */
const USER_ID = /^[\x21-\x7e]{1,128}$/;

export function assertUuid(value: string, field: string): string {
  if (!UUID.test(value)) throw new BadUserInputError(field, `${field} is not a valid id`);
  return value.toLowerCase();
}

export function isUserId(value: string): boolean {
  return USER_ID.test(value);
}

export function assertUserId(value: string, field: string): string {
  if (!isUserId(value)) throw new BadUserInputError(field, `${field} is not a valid user id`);
  return value;
}
