import "reflect-metadata";
import { startEmbeddedPostgres } from "./src/core/embedded-postgres";
import { initORM, migrate } from "./src/core/orm";
(async () => {
  const t0 = Date.now();
  const e = await startEmbeddedPostgres("/tmp/emb2");
  console.log("pglite", Date.now() - t0, e.url);
  const orm = await initORM({
    clientUrl: e.url,
    poolMax: 1,
    onQuery: (s) => console.log(s.slice(0, 200)),
  });
  console.log("orm", Date.now() - t0);
  console.log(await migrate(orm));
  console.log("migrated", Date.now() - t0);
  await orm.close();
  await e.stop();
})();
