import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { MikroORM } from "@mikro-orm/postgresql";
import { buildApp, type App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/core/logger";
import { ormConfig } from "../../src/core/orm";
import { testEnv } from "../helpers/app";
import { MeDocument, SearchMessagesDocument } from "../gql/graphql";
import { gql, gqlOk } from "../helpers/client";
import { testDatabaseUrl } from "../helpers/env";
import { LogCapture } from "../helpers/logs";
import { testUser, type TestUser } from "../helpers/tokens";

/** A word nobody else logs, to look for in every line. */
const secretWord = () => `zq${randomUUID().replace(/-/g, "")}`;

async function startApp(env: Record<string, string>, logs: LogCapture) {
  const app = await buildApp(loadConfig(testEnv(env)), { logger: createLogger("info", logs) });
  return { app, url: await app.start(0) };
}

/** The log lines about errors, for the assertions to point at. */
const errorLines = (logs: LogCapture) => logs.entries.filter((e) => e.err);

describe("Logs of database errors", () => {
  describe("a statement PostgreSQL cancels (statement_timeout) while the request's search words are in it", () => {
    const logs = new LogCapture();
    let app: App;
    let url: string;
    let alice: TestUser;

    beforeAll(async () => {
      ({ app, url } = await startApp({ DATABASE_STATEMENT_TIMEOUT_MS: "300" }, logs));
      alice = await testUser("alice");
      await gqlOk(url, MeDocument, {}, alice.token);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("should log the error with its class and SQLSTATE but never the search word or the SQL", async () => {
      const word = secretWord();
      // Another session holds the message table, so the search waits until PostgreSQL cancels it.
      const locker = new Client({ connectionString: testDatabaseUrl() });
      await locker.connect();
      try {
        await locker.query("begin");
        await locker.query("lock table message in access exclusive mode");
        const result = await gql(
          url,
          SearchMessagesDocument,
          { query: `${word} other words` },
          alice.token,
        );
        expect(result.errors?.[0]?.extensions?.code).toBe("UNAVAILABLE");
      } finally {
        await locker.query("rollback").catch(() => {});
        await locker.end();
      }

      const line = errorLines(logs).find((e) => e.msg === "dependency unavailable");
      expect(line?.err).toMatchObject({ type: expect.any(String), code: "57014" });
      expect(line?.err.message).toMatch(/canceling statement due to statement timeout/);
      expect(line?.requestId).toEqual(expect.any(String));
      expect(logs.text).not.toContain(word);
      expect(logs.text).not.toMatch(/websearch_to_tsquery|select m\.\*/);
    });
  });

  describe("a request that waits for a pooled connection in vain", () => {
    const logs = new LogCapture();
    let app: App;
    let url: string;
    let alice: TestUser;

    beforeAll(async () => {
      ({ app, url } = await startApp(
        {
          DATABASE_POOL_MAX: "1",
          DATABASE_ACQUIRE_TIMEOUT_MS: "100",
          DATABASE_STATEMENT_TIMEOUT_MS: "0",
        },
        logs,
      ));
      alice = await testUser("alice");
      await gqlOk(url, MeDocument, {}, alice.token);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("should log the timeout without the statement knex attaches to it (sql, bindings)", async () => {
      const word = secretWord();
      const held = await app.services.orm.em.getConnection().getKnex().transaction();
      try {
        const result = await gql(url, SearchMessagesDocument, { query: word }, alice.token);
        expect(result.errors?.[0]?.extensions?.code).toBe("UNAVAILABLE");
      } finally {
        await held.rollback();
      }
      const line = errorLines(logs).find((e) => e.msg === "dependency unavailable");
      expect(line?.err.message).toMatch(/Timeout acquiring a connection/);
      expect(line?.err.sql).toBeUndefined();
      expect(line?.err.bindings).toBeUndefined();
      expect(logs.text).not.toContain(word);
    });
  });

  describe("driver errors from PostgreSQL, logged by the app's logger", () => {
    const logs = new LogCapture();
    let app: App;

    beforeAll(async () => {
      ({ app } = await startApp({}, logs));
    });
    afterAll(async () => {
      await app?.stop();
    });

    async function driverError(sql: string, params: unknown[]): Promise<Error> {
      try {
        await app.services.orm.em.fork().execute(sql, params);
      } catch (error) {
        return error as Error;
      }
      throw new Error("expected the statement to fail");
    }

    it("should keep the class, code, constraint and table but drop a value PostgreSQL quotes in its message or detail", async () => {
      const word = secretWord();
      const invalid = await driverError("select ?::int as n", [word]);
      expect(invalid.message).toContain(word); // what a plain pino serializer would have logged

      const id = `user-${word}`;
      await app.services.orm.em.fork().execute(`insert into app_user (id) values (?)`, [id]);
      const duplicate = await driverError(`insert into app_user (id, display_name) values (?, ?)`, [
        id,
        `${word} name`,
      ]);
      expect(`${duplicate.message} ${(duplicate as { detail?: string }).detail}`).toContain(word);

      app.services.logger.error({ err: invalid }, "invalid");
      app.services.logger.error({ err: duplicate }, "duplicate");
      // Wrapped, as Apollo wraps what a context function throws.
      const wrapped = Object.assign(new Error(`Context creation failed: ${duplicate.message}`), {
        originalError: duplicate,
      });
      app.services.logger.error({ err: wrapped }, "wrapped");
      // A cause, as Error#cause chains print.
      app.services.logger.warn({ err: new Error("outer", { cause: invalid }) }, "caused");

      const byMsg = (msg: string) => logs.entries.find((e) => e.msg === msg)?.err;
      expect(byMsg("invalid")).toMatchObject({ type: "DriverException", code: "22P02" });
      expect(byMsg("duplicate")).toMatchObject({
        type: "UniqueConstraintViolationException",
        code: "23505",
        constraint: "app_user_pkey",
        table: "app_user",
      });
      expect(byMsg("duplicate").detail).toBeUndefined();
      expect(byMsg("wrapped").message).toMatch(/^Context creation failed: /);
      expect(byMsg("caused").message).toMatch(/^outer/);
      expect(logs.text).not.toContain(word);
      expect(logs.text).not.toMatch(/insert into|select \$1|::int/);
    });

    it("should leave the errors themselves as they were", async () => {
      const word = secretWord();
      const error = await driverError("select ?::int as n", [word]);
      app.services.logger.error({ err: error }, "again");
      expect(error.message).toContain(word);
      expect(logs.text).not.toContain(word);
    });
  });

  describe("MikroORM's own query log", () => {
    it("should never print parameters, even with debug on (MIKRO_ORM_DEBUG=true)", async () => {
      const word = secretWord();
      const lines: string[] = [];
      const orm = await MikroORM.init({
        ...ormConfig({ clientUrl: testDatabaseUrl(), poolMax: 1 }),
        debug: true,
        logger: (line: string) => lines.push(line),
      });
      try {
        await orm.em.fork().execute("select ? as word", [word]);
      } finally {
        await orm.close(true);
      }
      expect(lines.join("\n")).toMatch(/select .* as word/);
      expect(lines.join("\n")).not.toContain(word);
    });
  });
});
