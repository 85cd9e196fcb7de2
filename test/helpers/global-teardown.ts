import { Client } from "pg";
import { TEST_ADMIN_DATABASE_URL } from "./env";

/** Drops the run's own database (see globalSetup). */
export default async function globalTeardown(): Promise<void> {
  const admin = new Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${process.env.TEST_DATABASE_NAME}" with (force)`);
  } finally {
    await admin.end();
  }
}
