import { randomBytes } from "node:crypto";
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

/** A topic this instance listens to: one engine subscription, however many local listeners. */
interface Channel {
  listeners: Set<Listener>;
  /** The engine's subscription id, once Redis acknowledged SUBSCRIBE. */
  ready: Promise<number>;
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
  const publisher = new Redis(url, {
    ...options,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
  });
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
  // Every payload this instance publishes starts with its origin: its own listeners have it
  // already (delivered locally at publish, as Socket.IO's Redis adapter does), so Redis's echo of
  // it is recognised by its first bytes and dropped unparsed. The origin is whitespace, which
  // JSON.parse skips: other instances (of any version) decode the same object.
  const own = originMark();
  const engine = new RedisPubSub({
    publisher,
    subscriber,
    deserializer: (message: string | Buffer) => {
      const bytes = typeof message === "string" ? Buffer.from(message) : message;
      return bytes.length > own.length && own.equals(bytes.subarray(0, own.length))
        ? ECHO
        : (JSON.parse(bytes.toString()) as unknown);
    },
  });
  const topics = sharedSubscriptions(engine, prefix, logger);
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
    async publish(topic, payload) {
      const json = JSON.stringify(payload);
      const sent = publisher.publish(prefix + topic, withOrigin(own, json));
      if (topics.listened(topic)) {
        // The listeners here get what the others decode: plain JSON, parsed once for all of them.
        const decoded: unknown = JSON.parse(json);
        queueMicrotask(() => topics.deliver(topic, decoded));
      }
      await sent;
    },
    subscribe: topics.subscribe,
    onResubscribed(listener) {
      resubscribed.add(listener);
      return () => resubscribed.delete(listener);
    },
    close: () => Promise.all([publisher, subscriber].map(disconnect)).then(() => {}),
  };
}

/** Disconnects a client and resolves once it has ended (ioredis ends on the socket's close). */
async function disconnect(client: Redis): Promise<void> {
  if (client.status === "end") return;
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    client.once("end", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.disconnect();
  await ended;
}

/** What the deserializer makes of this instance's own payloads coming back from Redis. */
const ECHO = Symbol("echo");

/** 32 random JSON whitespace characters (64 bits): an instance's mark on what it publishes. */
function originMark(): Buffer {
  const whitespace = [0x20, 0x09, 0x0a, 0x0d];
  const random = randomBytes(8);
  const mark = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) mark[i] = whitespace[(random[i >> 2] >> ((i & 3) * 2)) & 3];
  return mark;
}

/** A payload's JSON behind the publishing instance's mark. */
function withOrigin(own: Buffer, json: string): string {
  return own.toString("latin1") + json;
}

/**
 * subscribe() over one engine subscription per topic: the topic's local listeners are called from
 * it (for other instances' payloads) and from deliver (for this instance's own), and the topic is
 * unsubscribed when the last of them leaves.
 */
function sharedSubscriptions(
  engine: RedisPubSub,
  prefix: string,
  logger: Logger,
): {
  subscribe: PubSub["subscribe"];
  listened(topic: string): boolean;
  deliver(topic: string, payload: unknown): void;
} {
  const channels = new Map<string, Channel>();
  const deliver = (topic: string, payload: unknown) => {
    const listeners = channels.get(topic)?.listeners;
    if (listeners) for (const each of listeners) each(payload);
  };
  const subscribe: PubSub["subscribe"] = async (topic, listener) => {
    let channel = channels.get(topic);
    if (!channel) {
      // One engine subscription per topic; its local listeners are called from here.
      const listeners = new Set<Listener>();
      const opened: Channel = {
        listeners,
        ready: engine.subscribe(prefix + topic, (payload: unknown) => {
          if (payload === ECHO) return;
          for (const each of listeners) each(payload);
        }),
      };
      channels.set(topic, (channel = opened));
    }
    const opened = channel;
    // A function of its own, so the same listener subscribed twice is released once each.
    const entry: Listener = (payload) => listener(payload);
    opened.listeners.add(entry);
    const release = () => {
      if (!opened.listeners.delete(entry) || opened.listeners.size) return;
      if (channels.get(topic) === opened) channels.delete(topic);
      // Once acknowledged (it may still be, once Redis is back), the topic is unsubscribed.
      opened.ready.then((id) => engine.unsubscribe(id)).catch(() => {});
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      opened.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("SUBSCRIBE timed out")), SUBSCRIBE_TIMEOUT_MS);
      }),
    ])
      .catch((error: unknown) => {
        release();
        // A topic whose SUBSCRIBE failed is asked for afresh by the next subscriber.
        if (channels.get(topic) === opened) channels.delete(topic);
        logger.warn({ err: error, topic }, "redis subscribe failed");
        throw new UnavailableError("The message bus");
      })
      .finally(() => clearTimeout(timer));
    return release;
  };
  return { subscribe, listened: (topic) => channels.has(topic), deliver };
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
