import { spawn } from "node:child_process";
import path from "node:path";
import { buildApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/core/logger";
import { migrationsList } from "../../src/migrations";
import { testEnv } from "../helpers/app";
import { createDatabase, query } from "../helpers/database";
import { LogCapture } from "../helpers/logs";

const ROOT = path.join(__dirname, "..", "..");
const ALL = migrationsList.map((m) => m.name);

/** `npm run migrate` as an operator runs it: its own process, DATABASE_URL in the environment. */
function npmRunMigrate(databaseUrl: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "migrate"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DATABASE_URL: databaseUrl,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += String(chunk)));
    child.stderr.on("data", (chunk) => (stderr += String(chunk)));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const applied = async (url: string) =>
  (await query<{ name: string }>(url, "select name from mikro_orm_migrations order by id")).map(
    (r) => r.name,
  );

describe("Migrations", () => {
  const databases: Array<Awaited<ReturnType<typeof createDatabase>>> = [];
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("should apply every migration to a fresh database with `npm run migrate`, then find none pending", async () => {
    const database = await createDatabase();
    databases.push(database);

    const first = await npmRunMigrate(database.url);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout.trim()).toBe(`applied: ${ALL.join(", ")}`);
    expect(await applied(database.url)).toEqual(ALL);
    const tables = await query<{ table_name: string }>(
      database.url,
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        "app_user",
        "conversation",
        "participant",
        "message",
        "relay_cursor",
      ]),
    );

    const second = await npmRunMigrate(database.url);
    expect(second).toMatchObject({ code: 0, stdout: "no pending migrations\n" });
  });

  it("should migrate on start, once, when two instances start together on a fresh database", async () => {
    const database = await createDatabase();
    databases.push(database);
    const env = testEnv({ DATABASE_URL: database.url });
    const logs = [new LogCapture(), new LogCapture()];
    const apps = await Promise.all(
      logs.map((log) => buildApp(loadConfig(env), { logger: createLogger("info", log) })),
    );
    await Promise.all(apps.map((app) => app.stop()));

    expect(await applied(database.url)).toEqual(ALL);
    const reports = logs.flatMap((log) =>
      log.entries.filter((e) => e.msg === "migrations applied"),
    );
    expect(reports).toHaveLength(1);
    expect(reports[0].migrations).toEqual(ALL);
  });
});
