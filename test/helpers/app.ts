import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { buildApp, type App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { TEST_JWT_SECRET, TEST_REDIS_URL, testDatabaseUrl, testRedisPrefix } from "./env";

export interface TestApp {
  app: App;
  url: string;
  wsUrl: string;
  /** SQL statements sent since the last reset. */
  statements: string[];
  stop(): Promise<void>;
}

/** Environment of a test instance: the tests' database, real Redis, a key prefix of its own. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: testDatabaseUrl(),
    DATABASE_POOL_MAX: "5",
    REDIS_URL: TEST_REDIS_URL,
    // Under the run's own prefix, which globalTeardown clears.
    REDIS_PREFIX: `${testRedisPrefix()}${randomUUID().slice(0, 8)}:`,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    // Tests send far faster than people; the safety tests set their own limits.
    MESSAGE_RATE_LIMIT: "100000",
    CONVERSATION_RATE_LIMIT: "100000",
    REPORT_RATE_LIMIT: "100000",
    BLOCK_RATE_LIMIT: "100000",
    TYPING_RATE_LIMIT: "100000",
    CONNECTION_RATE_LIMIT: "100000",
    FLOOD_MAX_REPEATS: "100000",
    ...overrides,
  };
}

/** A real instance on a free port; instances given the same env share Redis channels. */
export async function startTestApp(env: Record<string, string> = testEnv()): Promise<TestApp> {
  const statements: string[] = [];
  const app = await buildApp(loadConfig(env), { onQuery: (sql) => statements.push(sql) });
  const url = await app.start(0);
  return {
    app,
    url,
    wsUrl: url.replace(/^http/, "ws"),
    statements,
    stop: () => app.stop(),
  };
}
