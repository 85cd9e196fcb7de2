import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
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
  close(): Promise<void>;
}

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
  const subscriber = new Redis(url, options);
  for (const [name, client] of [
    ["publisher", publisher],
    ["subscriber", subscriber],
  ] as const) {
    client.on("error", (error: Error) => logger.warn({ err: error, client: name }, "redis error"));
  }
  // Connect before handing the clients over: a SUBSCRIBE sent mid-connect can be lost (STACK.md, trap 6).
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const engine = new RedisPubSub({ publisher, subscriber });
  return {
    mode: "redis",
    redis: publisher,
    publish: (topic, payload) => engine.publish(prefix + topic, payload),
    async subscribe(topic, listener) {
      const id = await engine.subscribe(prefix + topic, listener);
      return () => engine.unsubscribe(id);
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
    async close() {
      emitter.removeAllListeners();
    },
  };
}
