import {
  DefaultLogger,
  type LogContext,
  type LoggerNamespace,
  type LoggerOptions,
} from "@mikro-orm/core";
import type { Client as PgClient } from "pg";
import { defineConfig, MikroORM, type EntityManager, type Options } from "@mikro-orm/postgresql";
import { Migrator } from "@mikro-orm/migrations";
import { Conversation } from "../modules/conversations/conversation.entity";
import { Participant } from "../modules/conversations/participant.entity";
import { Message } from "../modules/messages/message.entity";
import { Block } from "../modules/moderation/block.entity";
import { Report } from "../modules/moderation/report.entity";
import { User } from "../modules/users/user.entity";
import { migrationsList } from "../migrations";

export const entities = [User, Conversation, Participant, Message, Block, Report];

export interface OrmOptions {
  clientUrl: string;
  poolMax: number;
  /** Called with every SQL statement sent; tests count them. */
  onQuery?: (sql: string) => void;
  /** Longest wait for a pooled (or new) connection; knex's own default is 60 s. */
  acquireTimeoutMs?: number;
  /** statement_timeout and idle_in_transaction_session_timeout of each session; real PostgreSQL only. */
  statementTimeoutMs?: number;
}

/**
 * Hands every SQL statement to onQuery; the rest of MikroORM's logging stays as configured, except
 * that statements are never logged with their parameters (message text, search words, ids), even
 * when MIKRO_ORM_DEBUG=true (which MikroORM reads from the environment, or a .env file, over
 * whatever is configured here) would turn on its `query-params` namespace.
 */
class StatementLogger extends DefaultLogger {
  constructor(
    options: LoggerOptions,
    private readonly onQuery: ((sql: string) => void) | null,
  ) {
    super(options);
  }

  override isEnabled(namespace: LoggerNamespace, context?: LogContext): boolean {
    return namespace !== "query-params" && super.isEnabled(namespace, context);
  }

  override logQuery(context: LogContext & { query: string }): void {
    this.onQuery?.(context.query);
    super.logQuery(context);
  }
}

export function ormConfig(options: OrmOptions): Options {
  return defineConfig({
    clientUrl: options.clientUrl,
    entities,
    extensions: [Migrator],
    pool: { min: options.poolMax === 1 ? 1 : 0, max: options.poolMax },
    // While PostgreSQL is down, requests fail after these bounds instead of queueing for a minute.
    driverOptions: {
      acquireConnectionTimeout: options.acquireTimeoutMs ?? 60_000,
      connection: {
        connectionTimeoutMillis: options.acquireTimeoutMs,
        keepAlive: true,
        ...(options.statementTimeoutMs
          ? {
              statement_timeout: options.statementTimeoutMs,
              idle_in_transaction_session_timeout: options.statementTimeoutMs,
            }
          : {}),
      },
    },
    // Reads go through DataLoaders and explicit queries; never lazy-load behind the scenes.
    forceUndefined: false,
    allowGlobalContext: false,
    loggerFactory: (loggerOptions: LoggerOptions) =>
      new StatementLogger(loggerOptions, options.onQuery ?? null),
    migrations: {
      tableName: "mikro_orm_migrations",
      path: "dist/src/migrations",
      pathTs: "src/migrations",
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
}

export async function initORM(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

/** Migrations of the same database serialise on this advisory lock, so instances can start together. */
const MIGRATION_LOCK = 7_245_001;

/**
 * Applies pending migrations; returns their names. The lock is held on a connection of its own
 * while the migrator uses others; a pool of one (the embedded database) is one instance anyway.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const migrator = orm.getMigrator();
  const poolMax = orm.config.get("pool")?.max ?? 1;
  if (poolMax < 2) return (await migrator.up()).map((m) => m.name);
  const lock = await orm.em.getConnection().getKnex().transaction();
  try {
    await lock.raw("select pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
    return (await migrator.up()).map((m) => m.name);
  } finally {
    await lock.commit();
  }
}

/**
 * Runs a statement of the hot path as a named prepared statement on a pooled connection:
 * PostgreSQL parses and plans it once per connection, not on every call (for sendMessage's
 * statement, 0.65 ms instead of 1.17 ms of a database core, measured with pgbench on this
 * machine). Parameters are `$1`…; errors are MikroORM's, as em.execute's are.
 */
export async function executePrepared<T>(
  em: EntityManager,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<T[]> {
  const knex = em.getConnection().getKnex();
  const client = (await knex.client.acquireConnection()) as PgClient;
  try {
    em.config.getLogger().logQuery({ query: text, level: "info" });
    const result = await client.query({ name, text, values: [...values] });
    return result.rows as T[];
  } catch (error) {
    throw error instanceof Error ? em.getDriver().convertException(error) : error;
  } finally {
    await knex.client.releaseConnection(client);
  }
}
