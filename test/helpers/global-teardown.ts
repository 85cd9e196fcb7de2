import { Client } from "pg";
import { Redis } from "ioredis";
import { TEST_ADMIN_DATABASE_URL, TEST_REDIS_URL } from "./env";

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
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(
        cursor,
        "MATCH",
        `test:${process.env.TEST_DATABASE_NAME}:*`,
        "COUNT",
        1000,
      );
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
