import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { UnavailableError } from "./errors";
import type { Logger } from "./logger";

export type Listener = (payload: unknown) => void;

/**
 * The fan-out bus between instances. Payloads are plain JSON (Dates travel as ISO strings), and
 * every local listener of a topic receives the same decoded object, so per-event work can be shared.
 */
export interface PubSub {
  readonly mode: "redis" | "memory";
  /** A Redis client for commands (shared state across instances); null when embedded. */
  readonly redis: Redis | null;
  publish(topic: string, payload: object): Promise<void>;
  /** Resolves once the topic is subscribed (for Redis: after SUBSCRIBE is acknowledged). */
  subscribe(topic: string, listener: Listener): Promise<() => void>;
  /**
   * Calls listener whenever the subscriber connection came back and every topic listens again:
   * whatever was published while it was away never arrives, so live feeds catch up from the database.
   */
  onResubscribed(listener: () => void): () => void;
  close(): Promise<void>;
}

/** A subscription that cannot be made in this time (Redis down) fails with UNAVAILABLE. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** Channel names, one per conversation or per user: never one global topic filtered per subscriber. */
export const Topic = {
  messageAdded: (conversationId: string) => `conversation:${conversationId}:message-added`,
  messageUpdated: (conversationId: string) => `conversation:${conversationId}:message-updated`,
  readReceipt: (conversationId: string) => `conversation:${conversationId}:read-receipt`,
  conversationUpdated: (userId: string) => `user:${userId}:conversation-updated`,
  typing: (conversationId: string) => `conversation:${conversationId}:typing`,
  presence: (userId: string) => `user:${userId}:presence`,
  blocks: (userId: string) => `user:${userId}:blocks`,
  membership: (userId: string) => `user:${userId}:membership`,
} as const;

export async function createPubSub(
  redisUrl: string | null,
  prefix: string,
  logger: Logger,
): Promise<PubSub> {
  return redisUrl ? createRedisPubSub(redisUrl, prefix, logger) : createMemoryPubSub();
}

async function createRedisPubSub(url: string, prefix: string, logger: Logger): Promise<PubSub> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2 };
  // A publish while Redis is down must fail fast rather than queue behind a reconnect.
  const publisher = new Redis(url, { ...options, enableOfflineQueue: false });
  // Subscriber commands wait out an outage instead of failing: an UNSUBSCRIBE rejected inside
  // graphql-redis-subscriptions has no handler and would end the process. SUBSCRIBE waits are bounded below.
  const subscriber = new Redis(url, { ...options, maxRetriesPerRequest: null });
  for (const [name, client] of [
    ["publisher", publisher],
    ["subscriber", subscriber],
  ] as const) {
    client.on("error", (error: Error) => logger.warn({ err: error, client: name }, "redis error"));
  }
  // Connect before handing the clients over: a SUBSCRIBE sent mid-connect can be lost (STACK.md, trap 6).
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const engine = new RedisPubSub({ publisher, subscriber });
  const resubscribed = new Set<() => void>();
  // After a reconnect ioredis re-sends SUBSCRIBE for every channel before emitting "ready"; a marker
  // SUBSCRIBE sent now is acknowledged after all of them, so the topics listen again from here on.
  subscriber.on("ready", () => {
    subscriber.subscribe(`${prefix}resubscribed`).then(
      () => {
        logger.info({ listeners: resubscribed.size }, "redis subscriber back: live feeds catch up");
        for (const listener of resubscribed) listener();
      },
      (error: unknown) => logger.warn({ err: error }, "redis resubscribe marker failed"),
    );
  });
  return {
    mode: "redis",
    redis: publisher,
    publish: (topic, payload) => engine.publish(prefix + topic, payload),
    async subscribe(topic, listener) {
      const pending = engine.subscribe(prefix + topic, listener);
      let timer: NodeJS.Timeout | undefined;
      const id = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("SUBSCRIBE timed out")), SUBSCRIBE_TIMEOUT_MS);
        }),
      ])
        .catch((error: unknown) => {
          // It may still be acknowledged once Redis is back: undo it then.
          pending.then((late) => engine.unsubscribe(late)).catch(() => {});
          logger.warn({ err: error, topic }, "redis subscribe failed");
          throw new UnavailableError("The message bus");
        })
        .finally(() => clearTimeout(timer));
      let subscribed = true;
      return () => {
        if (subscribed) engine.unsubscribe(id);
        subscribed = false;
      };
    },
    onResubscribed(listener) {
      resubscribed.add(listener);
      return () => resubscribed.delete(listener);
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}

function createMemoryPubSub(): PubSub {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    mode: "memory",
    redis: null,
    async publish(topic, payload) {
      // Round-trip through JSON so embedded mode delivers exactly what Redis would.
      const decoded: unknown = JSON.parse(JSON.stringify(payload));
      queueMicrotask(() => emitter.emit(topic, decoded));
    },
    async subscribe(topic, listener) {
      emitter.on(topic, listener);
      return () => emitter.off(topic, listener);
    },
    // In-process delivery is never interrupted.
    onResubscribed: () => () => {},
    async close() {
      emitter.removeAllListeners();
    },
  };
}
