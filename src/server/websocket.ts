import type http from "node:http";
import type { GraphQLSchema } from "graphql";
import type { Disposable } from "graphql-ws";
import { WebSocketServer } from "ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import { Context, type AppServices } from "../context";
import { boundedWebSocket } from "../core/bounded-socket";
import { AppError, ErrorCode } from "../core/errors";
import { ConnectionLifecycle, type ConnectionState } from "./connection-lifecycle";
import type { ErrorFormat } from "./error-format";
import { GRAPHQL_PATH } from "./http";
import type { RequestLimits } from "./request-limits";
import { createFanout } from "./shared-fields";

type SocketExtra = Extra & Record<PropertyKey, unknown> & ConnectionState;

export interface WebSocketOptions {
  services: AppServices;
  schema: GraphQLSchema;
  httpServer: http.Server;
  limits: RequestLimits;
  errorFormat: ErrorFormat;
  /** false: graphql-ws executes every subscription on its own (the unoptimised path). */
  grouped: boolean;
}

/** The ws server on the HTTP server's GraphQL path, with its frame and send-buffer limits. */
function createWebSocketServer(httpServer: http.Server, services: AppServices): WebSocketServer {
  const { config, logger } = services;
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
  return wsServer;
}

/** graphql-ws over ws; `dispose()` closes every socket with 1001 (Apollo's drain calls it). */
export function startWebSocketServer(options: WebSocketOptions): Disposable {
  const { services, schema, limits, errorFormat, grouped } = options;
  const { config } = services;
  const wsServer = createWebSocketServer(options.httpServer, services);
  // Executes each event once per group of identical subscriptions and shares the frame.
  const fanout = createFanout(
    schema,
    limits.validateWs,
    (context) => services.metrics.observeDelivery(context),
    config.safety.maxTokens,
    limits.checkVariables,
  );
  const connections = new ConnectionLifecycle(services);
  const maxSubscriptions = config.realtime.maxSubscriptionsPerConnection;
  return useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      validate: limits.validateWs,
      // A subscription over the per-connection cap is refused; the others go on.
      onSubscribe: (ctx, id, payload) => {
        const open = Object.keys(ctx.subscriptions).length; // this one included
        if (open > maxSubscriptions) {
          return [
            new AppError(
              ErrorCode.BAD_USER_INPUT,
              `At most ${maxSubscriptions} subscriptions per connection; complete one first`,
              { limit: "MAX_SUBSCRIPTIONS_PER_CONNECTION" },
            ),
          ];
        }
        return grouped ? fanout.onSubscribe(ctx, id, payload) : undefined;
      },
      ...(grouped ? { subscribe: fanout.subscribe } : {}),
      connectionInitWaitTimeout: 3_000,
      onConnect: (ctx) => connections.open(ctx.extra, ctx.connectionParams),
      onClose: (ctx) => connections.close(ctx.extra),
      context: (ctx) => new Context(services, ctx.extra.viewer ?? null),
      onOperation: (ctx) => {
        services.metrics.trackSocket(ctx);
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        services.metrics.observeDelivery(args.contextValue);
        if (!result.errors?.length) return;
        const requestId = (args.contextValue as Context).requestId;
        return { ...result, errors: errorFormat.maskAll(result.errors, requestId) };
      },
      onError: (_ctx, id, _payload, errors) => errorFormat.maskAll(errors, id),
    },
    wsServer,
    // graphql-ws's keep-alive is the only one: a peer that has not answered a ping within
    // WS_PING_MS is terminated (presence follows).
    config.realtime.wsPingMs,
  );
}
