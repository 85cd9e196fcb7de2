import "reflect-metadata";
import type { Config } from "./config";
import type { AppServices } from "./context";
import { createLogger, type Logger } from "./core/logger";
import { getSubgraphSchema } from "./federation";
import { getSchema } from "./schema";
import { errorFormat } from "./server/error-format";
import { createHttpServer, listen, mountRoutes, startApollo } from "./server/http";
import { startInfrastructure, type Infrastructure } from "./server/infrastructure";
import { requestLimits } from "./server/request-limits";
import { startWebSocketServer } from "./server/websocket";
import { createServices } from "./services";

export { GRAPHQL_PATH } from "./server/http";
export {
  CLOSE_FORBIDDEN,
  CLOSE_TOO_MANY_CONNECTIONS,
  CLOSE_UNAVAILABLE,
} from "./server/connection-lifecycle";

export interface AppOverrides {
  logger?: Logger;
  /** Called with every SQL statement; tests count them. */
  onQuery?: (sql: string) => void;
  /** false: graphql-ws executes every subscription on its own (the unoptimised path, for comparison). */
  fanout?: boolean;
}

export interface App {
  readonly services: AppServices;
  /** http://host:port/graphql once started. */
  readonly url: string;
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Connects to Postgres (embedded when no DATABASE_URL) and pub/sub, migrates, and wires the server. */
export async function buildApp(
  config: Readonly<Config>,
  overrides: AppOverrides = {},
): Promise<App> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const infrastructure = await startInfrastructure(config, logger, overrides.onQuery);
  try {
    if (config.jwt.devSecret) {
      logger.warn(
        "auth: embedded dev secret; tokens from `npm run token` work. Never in production.",
      );
    }
    const services = createServices(config, logger, infrastructure.orm, infrastructure.pubsub);
    return await wire(services, infrastructure, overrides.fanout !== false);
  } catch (error) {
    await infrastructure.abort();
    throw error;
  }
}

/** HTTP and WebSocket on one server, Apollo's drain ending graphql-ws; start and stop in order. */
async function wire(
  services: AppServices,
  infrastructure: Infrastructure,
  grouped: boolean,
): Promise<App> {
  const { config, logger } = services;
  const schema = config.federation ? await getSubgraphSchema() : await getSchema();
  const http = createHttpServer(logger);
  const limits = requestLimits(config);
  const format = errorFormat(services);
  const webSocket = startWebSocketServer({
    services,
    schema,
    httpServer: http.server,
    limits,
    errorFormat: format,
    grouped,
  });
  const apollo = await startApollo({
    services,
    schema,
    httpServer: http.server,
    limits,
    errorFormat: format,
    webSocket,
  });
  const operations = mountRoutes(http, services, apollo);

  let url = "";
  return {
    services,
    get url() {
      return url;
    },
    async start(port = config.port) {
      url = await listen(http.server, port, config.host);
      services.presence.start();
      services.notifications.start();
      services.messageStreams.start(config.realtime.streamResyncMs, services.pubsub);
      logger.info({ url }, "listening");
      return url;
    },
    async stop() {
      operations.drain();
      services.messageStreams.stop();
      await services.presence.stop();
      // Apollo's drain stops accepting, finishes in-flight requests and disposes graphql-ws (1001).
      await apollo.stop();
      await services.notifications.stop();
      await infrastructure.close();
    },
  };
}
