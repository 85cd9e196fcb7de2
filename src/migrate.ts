import "reflect-metadata";
import { loadConfig } from "./config";
import { startEmbeddedPostgres } from "./core/embedded-postgres";
import { initORM, migrate } from "./core/orm";

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
async function main() {
  const config = loadConfig();
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.dataDir);
  const orm = await initORM({ clientUrl: config.databaseUrl ?? embedded!.url, poolMax: 1 });
  try {
    const applied = await migrate(orm);
    console.log(applied.length ? `applied: ${applied.join(", ")}` : "no pending migrations");
  } finally {
    await orm.close();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
