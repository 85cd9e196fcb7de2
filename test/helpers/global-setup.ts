import { Client } from "pg";
import { Redis } from "ioredis";
import { TEST_ADMIN_DATABASE_URL, TEST_REDIS_URL } from "./env";

/**
 * A fresh database of the tests' own (each instance migrates it on start, under an advisory lock),
 * and a Redis that answers. Plain clients here: jest runs this outside the test sandboxes.
 */
export default async function globalSetup(): Promise<void> {
  // A database per run, so parallel runs on one machine never drop each other's data.
  process.env.TEST_DATABASE_NAME ??= `chat_test_${process.pid}`;
  const database = process.env.TEST_DATABASE_NAME;
  const admin = new Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  try {
    await admin.connect();
    await admin.query(`drop database if exists "${database}" with (force)`);
    await admin.query(`create database "${database}"`);
  } catch (error) {
    throw new Error(`Tests need PostgreSQL at ${TEST_ADMIN_DATABASE_URL}: ${String(error)}`, {
      cause: error,
    });
  } finally {
    await admin.end().catch(() => {});
  }

  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Tests need Redis at ${TEST_REDIS_URL}: ${String(error)}`, {
      cause: error,
    });
  } finally {
    redis.disconnect();
  }
}
