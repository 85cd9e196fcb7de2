import type { MikroORM } from "@mikro-orm/postgresql";
import type { Config } from "../config";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../core/embedded-postgres";
import type { Logger } from "../core/logger";
import { initORM, migrate } from "../core/orm";
import { createPubSub, type PubSub } from "../core/pubsub";

/** The database and pub/sub one instance runs on. */
export interface Infrastructure {
  readonly orm: MikroORM;
  readonly pubsub: PubSub;
  /** After a failed start: pub/sub, the ORM's connections without waiting, the embedded database. */
  abort(): Promise<void>;
  /** The last steps of a drain, in order: pub/sub, the ORM, the embedded database. */
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL (embedded PGlite when there is no DATABASE_URL), migrates, and connects
 * pub/sub (in-process without REDIS_URL). What started is closed again when a later step fails.
 */
export async function startInfrastructure(
  config: Readonly<Config>,
  logger: Logger,
  onQuery?: (sql: string) => void,
): Promise<Infrastructure> {
  let embedded: EmbeddedPostgres | null = null;
  let orm: MikroORM | null = null;
  let pubsub: PubSub | null = null;
  const abort = async () => {
    await pubsub?.close().catch(() => {});
    await orm?.close(true).catch(() => {});
    await embedded?.stop().catch(() => {});
  };
  try {
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres(config.dataDir);
      logger.info({ dataDir: config.dataDir }, "database: embedded PGlite (single instance only)");
    } else {
      logger.info("database: PostgreSQL from DATABASE_URL");
    }
    orm = await initORM({
      clientUrl: config.databaseUrl ?? embedded!.url,
      poolMax: config.databasePoolMax,
      onQuery,
      acquireTimeoutMs: config.databaseAcquireTimeoutMs,
      statementTimeoutMs: config.databaseUrl ? config.databaseStatementTimeoutMs : undefined,
    });
    const applied = await migrate(orm);
    if (applied.length) logger.info({ migrations: applied }, "migrations applied");
    const bus = (pubsub = await createPubSub(config.redisUrl, config.redisPrefix, logger));
    logger.info(
      bus.mode === "redis"
        ? "pub/sub: Redis from REDIS_URL"
        : "pub/sub: in-process (single instance only)",
    );
    const started = orm;
    return {
      orm: started,
      pubsub: bus,
      abort,
      async close() {
        await bus.close();
        await started.close();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await abort();
    throw error;
  }
}
