import "reflect-metadata";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from "graphql";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { WebSocketServer, type WebSocket } from "ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Config } from "./config";
import { Context, type AppServices } from "./context";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./core/embedded-postgres";
import { boundedWebSocket } from "./core/bounded-socket";
import { AppError, ErrorCode, isUnavailable, maskError } from "./core/errors";
import { Metrics } from "./core/metrics";
import { currentRequestId, operationsRoutes, requestIdOf, requestLogger } from "./core/operations";
import { createLogger, type Logger } from "./core/logger";
import { initORM, migrate } from "./core/orm";
import { createPubSub } from "./core/pubsub";
import { hideSuggestions } from "./core/suggestions";
import { singleMutationRule } from "./core/single-mutation.rule";
import { specStatusCodes } from "./core/http-status";
import {
  bearerToken,
  connectionParamsToken,
  createTokenVerifier,
} from "./modules/auth/token.service";
import type { Viewer } from "./modules/auth/viewer";
import { ConversationService } from "./modules/conversations/conversation.service";
import { ConversationStreams } from "./modules/conversations/conversation.stream";
import { MessageService } from "./modules/messages/message.service";
import { MessageStreams } from "./modules/messages/message.stream";
import { NotificationRelay } from "./modules/notifications/notification.relay";
import { RateLimiters } from "./core/rate-limit";
import { BlockService } from "./modules/moderation/block.service";
import { ChatPolicy } from "./modules/moderation/chat-policy";
import { ContentGuard } from "./modules/moderation/content.guard";
import { ReportService } from "./modules/moderation/report.service";
import type { Safety } from "./modules/moderation/safety";
import { PresenceService } from "./modules/presence/presence.service";
import { createPresenceStore } from "./modules/presence/presence.store";
import { ReceiptService } from "./modules/receipts/receipt.service";
import { TypingService } from "./modules/typing/typing.service";
import { createTypingStore } from "./modules/typing/typing.store";
import { UserService } from "./modules/users/user.service";
import { getSchema } from "./schema";
import { createFanout } from "./fanout";
import { getSubgraphSchema } from "./federation";
import { playground } from "./playground";

export const GRAPHQL_PATH = "/graphql";
/** graphql-ws close code for a refused or expired token, as graphql-ws itself uses for onConnect. */
export const CLOSE_FORBIDDEN = 4403;
/** Refused because the user has MAX_CONNECTIONS_PER_USER open; graphql-ws clients do not retry it. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** "Try Again Later": PostgreSQL or Redis did not answer while the connection was set up. Retryable. */
export const CLOSE_UNAVAILABLE = 1013;
/** setTimeout's ceiling; tokens living longer than ~24 days are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

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

type SocketExtra = Extra &
  Record<PropertyKey, unknown> & {
    viewer?: Viewer;
    expiryTimer?: NodeJS.Timeout;
    /** The connection's admission while onConnect runs: the viewer once counted in presence. */
    admission?: Promise<Viewer | null>;
    closed?: boolean;
  };

/** Connects to Postgres (embedded when no DATABASE_URL) and pub/sub, migrates, and wires the server. */
export async function buildApp(
  config: Readonly<Config>,
  overrides: AppOverrides = {},
): Promise<App> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  let embedded: EmbeddedPostgres | null = null;
  let orm: MikroORM | null = null;
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
      onQuery: overrides.onQuery,
      acquireTimeoutMs: config.databaseAcquireTimeoutMs,
      statementTimeoutMs: config.databaseUrl ? config.databaseStatementTimeoutMs : undefined,
    });
    const applied = await migrate(orm);
    if (applied.length) logger.info({ migrations: applied }, "migrations applied");
    const pubsub = await createPubSub(config.redisUrl, config.redisPrefix, logger);
    logger.info(
      pubsub.mode === "redis"
        ? "pub/sub: Redis from REDIS_URL"
        : "pub/sub: in-process (single instance only)",
    );
    if (config.jwt.devSecret) {
      logger.warn(
        "auth: embedded dev secret; tokens from `npm run token` work. Never in production.",
      );
    }
    const users = new UserService();
    const limiters = new RateLimiters(config.safety, pubsub.redis, config.redisPrefix);
    const blocks = new BlockService(pubsub);
    const safety: Safety = {
      limiters,
      content: new ContentGuard(config.safety),
      policy: new ChatPolicy(config.safety, logger),
      blocks,
    };
    const conversationStreams = new ConversationStreams(orm, pubsub, logger);
    const typing = new TypingService(
      config.realtime,
      createTypingStore(pubsub.redis, config.redisPrefix),
      pubsub,
      logger,
      safety,
    );
    const presence = new PresenceService(
      config.realtime,
      createPresenceStore(pubsub.redis, config.redisPrefix),
      pubsub,
      orm,
      logger,
    );
    const messages = new MessageService(config, pubsub, typing, safety);
    const conversations = new ConversationService(
      config,
      pubsub,
      users,
      messages,
      typing,
      safety,
      logger,
    );
    const metrics = new Metrics();
    const services: AppServices = {
      config,
      orm,
      pubsub,
      logger,
      verifyToken: createTokenVerifier(config.jwt),
      users,
      conversations,
      messages,
      conversationStreams,
      messageStreams: new MessageStreams(
        orm,
        conversationStreams,
        logger,
        config.realtime.streamGapWaitMs,
      ),
      receipts: new ReceiptService(pubsub, conversations),
      typing,
      presence,
      safety,
      blocks,
      reports: new ReportService(config, limiters),
      metrics,
      notifications: new NotificationRelay(
        config.notifications,
        orm,
        pubsub,
        presence,
        metrics,
        logger,
      ),
    };
    return await wire(services, embedded, overrides.fanout !== false);
  } catch (error) {
    await orm?.close(true).catch(() => {});
    await embedded?.stop().catch(() => {});
    throw error;
  }
}

async function wire(
  services: AppServices,
  embedded: EmbeddedPostgres | null,
  grouped: boolean,
): Promise<App> {
  const { config, logger } = services;
  const schema = config.federation ? await getSubgraphSchema() : await getSchema();
  const app = express();
  app.disable("x-powered-by");
  app.use(requestLogger(logger));
  const httpServer = http.createServer(app);

  const wsServer = new WebSocketServer({
    server: httpServer,
    path: GRAPHQL_PATH,
    // A bigger frame closes the socket with 1009 (message too big).
    maxPayload: config.safety.maxWsPayloadBytes,
    // A client that stops reading is closed with 4008 (resume by afterSeq) rather than buffered for.
    WebSocket: boundedWebSocket(config.realtime.wsMaxBufferedBytes, (bufferedAmount) =>
      logger.warn({ bufferedAmount }, "slow consumer closed"),
    ),
  });
  services.metrics.watchWebSocketServer(wsServer);
  const armor = requestLimits(config);
  // An outage of PostgreSQL or Redis is expected to happen and is reported by /ready: a warning
  // per failed request, not an "unexpected error".
  const report = (requestId: string) => (error: unknown, unavailable: boolean) =>
    unavailable
      ? logger.warn({ err: error, requestId }, "dependency unavailable")
      : logger.error({ err: error, requestId }, "unexpected error");
  // The last step of every error answer, over HTTP and WebSocket alike.
  const format = (formatted: GraphQLFormattedError, error: unknown, requestId: string) => {
    const masked = services.metrics.countError(maskError(formatted, error, report(requestId)));
    return config.production ? { ...masked, message: hideSuggestions(masked.message) } : masked;
  };
  const maskAll = (errors: readonly GraphQLError[], requestId: string): GraphQLFormattedError[] =>
    errors.map((e) => format(e.toJSON(), e, requestId));

  // Apollo's `introspection` switch covers HTTP only; the same rule keeps WebSocket in line.
  // Beside the limits: at most one non-idempotent mutation per operation (single-mutation.rule.ts).
  const extraRules = [...armor.validationRules, singleMutationRule()];
  const wsRules = [
    ...specifiedRules,
    ...extraRules,
    ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  // Coded as Apollo codes them over HTTP (uncoded, the masking would turn them into internal
  // errors), and without field suggestions in production, as armor's HTTP plugin does.
  const validateWs = (schema: GraphQLSchema, document: DocumentNode) =>
    validate(schema, document, wsRules).map(
      (e) =>
        new GraphQLError(config.production ? hideSuggestions(e.message) : e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          originalError: e.originalError,
          extensions: { ...e.extensions, code: "GRAPHQL_VALIDATION_FAILED" },
        }),
    );
  // Executes each event once per group of identical subscriptions and shares the frame (fanout.ts).
  const fanout = createFanout(
    schema,
    validateWs,
    (context) => services.metrics.observeDelivery(context),
    config.safety.maxTokens,
  );

  const wsCleanup = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      validate: validateWs,
      // A subscription over the per-connection cap is refused; the others go on.
      onSubscribe: (ctx, id, payload) => {
        const open = Object.keys(ctx.subscriptions).length; // this one included
        if (open > config.realtime.maxSubscriptionsPerConnection) {
          return [
            new AppError(
              ErrorCode.BAD_USER_INPUT,
              `At most ${config.realtime.maxSubscriptionsPerConnection} subscriptions per connection; complete one first`,
              { limit: "MAX_SUBSCRIPTIONS_PER_CONNECTION" },
            ),
          ];
        }
        return grouped ? fanout.onSubscribe(ctx, id, payload) : undefined;
      },
      ...(grouped ? { subscribe: fanout.subscribe } : {}),
      connectionInitWaitTimeout: 3_000,
      // onClose can run while onConnect is still admitting (a client that aborts its handshake):
      // it waits for the admission and releases what it took, so the registry stays exact.
      onConnect: async (ctx) => {
        const admission = admit(ctx.extra, ctx.connectionParams);
        ctx.extra.admission = admission;
        const viewer = await admission;
        if (!viewer || ctx.extra.closed) return false;
        ctx.extra.viewer = viewer;
        scheduleExpiry(ctx.extra, viewer.expiresAt);
        return true;
      },
      onClose: async (ctx) => {
        ctx.extra.closed = true;
        clearTimeout(ctx.extra.expiryTimer);
        const viewer = await ctx.extra.admission?.catch(() => null);
        if (!viewer) return;
        // graphql-ws does not catch what this throws: a rejection here would end the process.
        try {
          await services.presence.disconnect(viewer.id);
          await services.typing.stopAll(services.orm.em.fork() as never, viewer);
        } catch (error) {
          logger.warn({ err: error, userId: viewer.id }, "connection cleanup failed");
        }
      },
      context: (ctx) => new Context(services, ctx.extra.viewer ?? null),
      onOperation: (ctx) => {
        services.metrics.trackSocket(ctx);
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        services.metrics.observeDelivery(args.contextValue);
        if (!result.errors?.length) return;
        const requestId = (args.contextValue as Context).requestId;
        return { ...result, errors: maskAll(result.errors, requestId) };
      },
      onError: (_ctx, id, _payload, errors) => maskAll(errors, id),
    },
    wsServer,
    // graphql-ws's keep-alive is the only one: a peer that has not answered a ping within
    // WS_PING_MS is terminated (presence follows).
    config.realtime.wsPingMs,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM; Apollo's own handler would race app.stop(), whose apollo.stop() then hangs.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => format(formatted, error, currentRequestId() ?? "http"),
    validationRules: extraRules,
    // graphql-js counts tokens itself: a syntax error (400), where armor's plugin answers 500.
    parseOptions: { maxTokens: config.safety.maxTokens },
    allowBatchedHttpRequests: false,
    plugins: [
      ...armor.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      specStatusCodes<Context>(),
      // Apollo's own landing page loads from a CDN; ours (playground.ts) is served locally.
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  const operations = operationsRoutes(services);
  app.use(operations.router);
  if (config.playground) app.use(playground(GRAPHQL_PATH));
  app.use(
    GRAPHQL_PATH,
    express.json({ limit: config.safety.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = requestIdOf(res);
        const authorization = req.get("authorization");
        if (!authorization) return new Context(services, null, requestId);
        const viewer = await services.verifyToken(bearerToken(authorization) ?? "");
        res.locals.userId = viewer.id;
        // One statement on the root EntityManager, and none once the user is known: no fork.
        await services.users.ensureUser(services.orm.em, viewer);
        return new Context(services, viewer, requestId);
      },
    }),
  );
  // Bodies that never reach GraphQL (too large, not JSON) still get a GraphQL-shaped answer.
  app.use(
    (
      error: { type?: string; status?: number },
      _req: express.Request,
      res: express.Response,
      next: express.NextFunction,
    ) => {
      const status = error.type === "entity.too.large" ? 413 : error.status;
      if (!status || status >= 500) return next(error);
      const message =
        status === 413
          ? `Request body over ${config.safety.maxBodyBytes} bytes`
          : "Malformed request body";
      res.status(status).json({ errors: [{ message, extensions: { code: "BAD_REQUEST" } }] });
    },
  );

  let url = "";
  return {
    services,
    get url() {
      return url;
    },
    async start(port = config.port) {
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(port, config.host, () => resolve());
      });
      const address = httpServer.address() as AddressInfo;
      const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
      url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}${GRAPHQL_PATH}`;
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
      await services.pubsub.close();
      await services.orm.close();
      await embedded?.stop();
    },
  };

  /**
   * Checks the token, the connection rate and the user's connection count; the viewer once the
   * connection counts in presence, or null (the socket is closed with a code that says why).
   */
  async function admit(
    extra: SocketExtra,
    connectionParams: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Viewer | null> {
    const token = connectionParamsToken(connectionParams);
    if (!token) return null;
    let viewer: Viewer;
    try {
      viewer = await services.verifyToken(token);
    } catch {
      return null;
    }
    try {
      await services.safety.limiters.consume("connections", viewer.id);
    } catch {
      extra.socket.close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connection attempts");
      return null;
    }
    try {
      await services.users.ensureUser(services.orm.em, viewer);
      if (!(await services.presence.connect(viewer.id))) {
        extra.socket.close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connections for this user");
        return null;
      }
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      // graphql-ws would close with 4500, which its clients never retry.
      logger.warn({ err: error }, "connection refused: a dependency is unavailable");
      extra.socket.close(CLOSE_UNAVAILABLE, "Service unavailable; retry");
      return null;
    }
    return viewer;
  }

  function scheduleExpiry(extra: SocketExtra, expiresAt: number) {
    const socket: WebSocket = extra.socket;
    const delay = expiresAt - Date.now();
    extra.expiryTimer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) scheduleExpiry(extra, expiresAt);
        else socket.close(CLOSE_FORBIDDEN, "Token expired");
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
  }
}

/** Depth, cost, alias and directive limits from graphql-armor, for HTTP and WebSocket. */
function requestLimits(config: Readonly<Config>) {
  const limits = config.safety;
  return new ApolloArmor({
    maxDepth: { n: limits.maxQueryDepth },
    // armor's default weights, which src/core/query-cost.ts (the _entities cost) repeats.
    costLimit: { maxCost: limits.maxQueryCost, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 },
    // armor exempts `__typename` aliases by default (allowList), so 1,000 of them passed.
    maxAliases: { n: limits.maxAliases, allowList: [] },
    maxDirectives: { n: limits.maxDirectives },
    // Its Apollo plugin throws from a hook (HTTP 500) and rethrows any unexpected error unmasked.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: config.production },
  }).protect();
}
