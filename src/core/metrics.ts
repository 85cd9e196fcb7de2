import type { GraphQLFormattedError } from "graphql";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { WebSocketServer } from "ws";

/** graphql-ws's per-socket context, as far as counting subscriptions needs it. */
interface SocketContext {
  subscriptions: Record<string, unknown>;
  extra: { socket: { once(event: "close", listener: () => void): unknown } };
}

/** What a subscription is about to deliver, by its context; read back when the frame goes out. */
const pendingDeliveries = new WeakMap<object, number>();

/** Called by a subscription resolver with the createdAt of the message it is about to deliver. */
export function noteDelivery(context: object, createdAt: Date): void {
  pendingDeliveries.set(context, createdAt.getTime());
}

/**
 * A label-less Prometheus histogram for the fan-out's hot path, in prom-client's format: an
 * observation is a bucket search and three additions, where prom-client's observe validates and
 * hashes labels and allocates on every call (a tenth of a delivery's cost in a room of 1,000).
 */
export class FastHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.counts = new Float64Array(bounds.length);
    registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  observe(value: number): void {
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]) {
        this.counts[i]++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  /** What the registry prints: cumulative buckets, then +Inf, sum and count. */
  get() {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    const values = this.bounds.map((le, i) => {
      cumulative += this.counts[i];
      return { labels: { le }, value: cumulative, metricName: bucket };
    });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [
        ...values,
        { labels: { le: "+Inf" }, value: this.count, metricName: bucket },
        { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
        { labels: {}, value: this.count, metricName: `${this.name}_count` },
      ],
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

const isAsyncIterable = (value: unknown) =>
  typeof value === "object" && value !== null && Symbol.asyncIterator in value;

/**
 * Prometheus metrics of one instance, in a registry of its own so that several instances in one
 * process (the tests) never clash. Served at GET /metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  private wsServer: WebSocketServer | null = null;
  private readonly sockets = new Set<SocketContext>();
  private notificationBacklog: (() => Promise<number>) | null = null;

  readonly messagesSent = new Counter({
    name: "chat_messages_sent_total",
    help: "Messages stored by sendMessage on this instance, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  /** Observed once per frame written: a room of 1,000 makes 1,000 observations per message. */
  readonly deliveryLatency = new FastHistogram(
    "chat_delivery_latency_seconds",
    "From a message's createdAt to its messageAdded frame being sent to a subscriber.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    this.registry,
  );

  readonly graphqlErrors = new Counter({
    name: "chat_graphql_errors_total",
    help: "Errors returned to clients (HTTP and WebSocket), by extensions.code.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  readonly notificationsPublished = new Counter({
    name: "chat_notifications_published_total",
    help: "Outbox events this instance published to the notifications channel.",
    registers: [this.registry],
  });

  readonly notificationRelayFailures = new Counter({
    name: "chat_notification_relay_failures_total",
    help: "Relay attempts that failed (Redis or PostgreSQL unavailable); the events stay unsent.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const connections = () => this.wsServer?.clients.size ?? 0;
    const subscriptions = () => {
      let count = 0;
      for (const ctx of this.sockets) {
        count += Object.values(ctx.subscriptions).filter(isAsyncIterable).length;
      }
      return count;
    };
    const pending = () => this.notificationBacklog?.();
    new Gauge({
      name: "chat_websocket_connections",
      help: "Open WebSocket connections on this instance.",
      registers: [this.registry],
      collect() {
        this.set(connections());
      },
    });
    new Gauge({
      name: "chat_subscriptions_active",
      help: "GraphQL subscriptions running on this instance.",
      registers: [this.registry],
      collect() {
        this.set(subscriptions());
      },
    });
    new Gauge({
      name: "chat_notifications_pending",
      help: "Notification events committed but not yet relayed (all instances).",
      registers: [this.registry],
      async collect() {
        try {
          const value = await pending();
          if (value !== undefined) this.set(value);
        } catch {
          // The database is down: /ready says so; keep the last value.
        }
      },
    });
  }

  watchWebSocketServer(wsServer: WebSocketServer): void {
    this.wsServer = wsServer;
  }

  watchNotificationBacklog(pending: () => Promise<number>): void {
    this.notificationBacklog = pending;
  }

  /** graphql-ws onOperation: remembers the socket so its running subscriptions are counted. */
  trackSocket(ctx: SocketContext): void {
    if (this.sockets.has(ctx)) return;
    this.sockets.add(ctx);
    ctx.extra.socket.once("close", () => this.sockets.delete(ctx));
  }

  /** graphql-ws onNext: observes the latency of the message this subscription noted, if any. */
  observeDelivery(context: unknown): void {
    if (typeof context !== "object" || context === null) return;
    const createdAt = pendingDeliveries.get(context);
    if (createdAt === undefined) return;
    pendingDeliveries.delete(context);
    this.deliveryLatency.observe(Math.max(0, Date.now() - createdAt) / 1000);
  }

  /** Counts an error by code as it leaves for the client; returns it unchanged. */
  countError(error: GraphQLFormattedError): GraphQLFormattedError {
    const code = error.extensions?.code;
    this.graphqlErrors.inc({ code: typeof code === "string" ? code : "INTERNAL_SERVER_ERROR" });
    return error;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
