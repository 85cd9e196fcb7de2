import http from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import type { Disposable } from "graphql-ws";
import { Context, type AppServices } from "../context";
import { specStatusCodes } from "../core/http-status";
import type { Logger } from "../core/logger";
import {
  currentRequestId,
  noteRequest,
  operationsRoutes,
  pathOf,
  requestIdOf,
  requestLogger,
} from "../core/operations";
import { bearerToken } from "../modules/auth/token.service";
import { playground } from "../playground";
import type { ErrorFormat } from "./error-format";
import { graphqlOverHttp, type HttpContextFunction } from "./graphql-http";
import type { RequestLimits } from "./request-limits";

/** Where GraphQL is served, over HTTP and WebSocket alike. */
export const GRAPHQL_PATH = "/graphql";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HttpServer {
  /** Everything but GraphQL requests other than GET (health, metrics, the playground, GETs). */
  app: Express;
  server: http.Server;
  /** Where GraphQL requests go once Apollo has started (mountRoutes). */
  graphql: Handler | null;
}

/**
 * A plain HTTP server: GraphQL requests other than GET straight to graphql-http.ts, the rest
 * (GETs of /graphql too: the playground's page or a query) to Express; every request is logged
 * with its request id.
 */
export function createHttpServer(logger: Logger): HttpServer {
  const app = express();
  app.disable("x-powered-by");
  const log = requestLogger(logger);
  const front: HttpServer = {
    app,
    server: http.createServer((req, res) => {
      log(req, res, () => {
        const graphql = front.graphql;
        if (graphql && req.method !== "GET" && pathOf(req.url) === GRAPHQL_PATH) graphql(req, res);
        else app(req, res);
      });
    }),
    graphql: null,
  };
  return front;
}

export interface ApolloOptions {
  services: AppServices;
  schema: GraphQLSchema;
  httpServer: http.Server;
  limits: RequestLimits;
  errorFormat: ErrorFormat;
  /** Disposed by Apollo's drain, after the HTTP server stopped accepting. */
  webSocket: Disposable;
}

/** Apollo Server, started: limits, error masking, spec status codes; its drain ends graphql-ws. */
export async function startApollo(options: ApolloOptions): Promise<ApolloServer<Context>> {
  const { services, httpServer, limits, errorFormat, webSocket } = options;
  const { config } = services;
  const apollo = new ApolloServer<Context>({
    schema: options.schema,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM; Apollo's own handler would race app.stop(), whose apollo.stop() then hangs.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) =>
      errorFormat.format(formatted, error, currentRequestId() ?? "http"),
    validationRules: limits.validationRules,
    // graphql-js counts tokens itself: a syntax error (400), where armor's plugin answers 500.
    parseOptions: { maxTokens: config.safety.maxTokens },
    allowBatchedHttpRequests: false,
    plugins: [
      ...limits.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      specStatusCodes<Context>(),
      // Apollo's own landing page loads from a CDN; ours (playground.ts) is served locally.
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await webSocket.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  return apollo;
}

/** A request's context: anonymous without Authorization, else the verified viewer (row kept). */
function httpContext(services: AppServices): HttpContextFunction<Context> {
  return async (req, res) => {
    const requestId = requestIdOf(res);
    const authorization = req.headers.authorization;
    if (!authorization) return new Context(services, null, requestId);
    const viewer = await services.verifyToken(bearerToken(authorization) ?? "");
    noteRequest(res, { userId: viewer.id });
    // One statement on the root EntityManager, and none once the user is known: no fork.
    await services.users.ensureUser(services.orm.em, viewer);
    return new Context(services, viewer, requestId);
  };
}

/**
 * GET /health, /ready and /metrics, the playground when enabled, and GraphQL itself; `drain()`
 * turns /ready to 503 once the instance is stopping.
 */
export function mountRoutes(
  front: HttpServer,
  services: AppServices,
  apollo: ApolloServer<Context>,
): { drain(): void } {
  const { config } = services;
  const { app } = front;
  const graphql = graphqlOverHttp(apollo, {
    context: httpContext(services),
    maxBodyBytes: config.safety.maxBodyBytes,
    onBody: (res, body) => noteRequest(res, { body }),
  });
  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  const operations = operationsRoutes(services);
  app.use(operations.router);
  if (config.playground) app.use(playground(GRAPHQL_PATH));
  app.use(GRAPHQL_PATH, (req, res) => graphql(req, res));
  front.graphql = graphql;
  return operations;
}

/** Listens on host:port; the GraphQL URL, with a wildcard host shown as localhost. */
export async function listen(server: http.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${address.port}${GRAPHQL_PATH}`;
}
