import "reflect-metadata";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/core/logger";
import { startInfrastructure } from "../../src/server/infrastructure";
import { testEnv } from "../helpers/app";

/** What a start that fails after the database and Redis answered leaves open: nothing. */
describe("infrastructure", () => {
  it("closes pub/sub and the database pool when a later start step fails", async () => {
    const infrastructure = await startInfrastructure(loadConfig(testEnv()), createLogger("silent"));
    const redis = infrastructure.pubsub.redis!;
    expect(redis.status).toBe("ready");
    await infrastructure.abort();
    expect(redis.status).toBe("end");
    expect(await infrastructure.orm.isConnected()).toBe(false);
  });
});
