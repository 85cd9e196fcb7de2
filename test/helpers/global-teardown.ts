import { Client } from "pg";
import { TEST_ADMIN_DATABASE_URL, TEST_REDIS_URL } from "./env";
import { deleteKeysWithPrefix } from "./redis-keys";

/** Drops the run's own database (see globalSetup) and deletes the run's Redis keys. */
export default async function globalTeardown(): Promise<void> {
  const admin = new Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${process.env.TEST_DATABASE_NAME}" with (force)`);
  } finally {
    await admin.end();
  }
  // Presence entries of killed child instances, rate-limit counters: under `test:<database>:`.
  await deleteKeysWithPrefix(TEST_REDIS_URL, `test:${process.env.TEST_DATABASE_NAME}:`);
}
