import "reflect-metadata";
import { loadConfig } from "./src/config";
import { ormConfig } from "./src/core/orm";

// For the MikroORM CLI (`npx mikro-orm migration:create`); needs DATABASE_URL.
const config = loadConfig();
if (!config.databaseUrl) throw new Error("Set DATABASE_URL to use the MikroORM CLI");

export default ormConfig({ clientUrl: config.databaseUrl, poolMax: 1 });
