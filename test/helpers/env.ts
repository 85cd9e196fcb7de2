/** Where the tests find the machine's services; override for other setups. */
export const TEST_ADMIN_DATABASE_URL =
  process.env.TEST_ADMIN_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** Set by globalSetup for the whole run: every run gets a database of its own. */
export const TEST_DATABASE_NAME = process.env.TEST_DATABASE_NAME ?? "chat_test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256!!";

/** Every Redis key and channel of this run starts with this; globalTeardown deletes the keys. */
export function testRedisPrefix(): string {
  return `test:${TEST_DATABASE_NAME}:`;
}

export function testDatabaseUrl(): string {
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${TEST_DATABASE_NAME}`;
  return url.toString();
}
