import type { Redis } from "ioredis";
import type { Peek } from "../../core/rate-limit";

/** Who is typing where, shared by every instance (Redis) or held in memory when embedded. */
export interface TypingStore {
  /** Marks the user typing until now + ttl; true when an event should go out (not throttled). */
  start(
    conversationId: string,
    userId: string,
    ttlMs: number,
    throttleMs: number,
  ): Promise<boolean>;
  /** Clears it; true when the user was typing there. */
  stop(conversationId: string, userId: string): Promise<boolean>;
  /** Conversations the user is typing in now. */
  active(userId: string): Promise<string[]>;
  /** The Redis hash field whose value (a deadline in ms) says the user is typing there; null in memory. */
  peek(conversationId: string, userId: string): Peek | null;
}

export function createTypingStore(redis: Redis | null, prefix: string): TypingStore {
  return redis ? new RedisTypingStore(redis, prefix) : new MemoryTypingStore();
}

class RedisTypingStore implements TypingStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key = (userId: string) => `${this.prefix}typing:${userId}`;

  peek(conversationId: string, userId: string): Peek {
    return { key: this.key(userId), field: conversationId };
  }
  private throttleKey = (conversationId: string, userId: string) =>
    `${this.prefix}typing-throttle:${conversationId}:${userId}`;

  async start(conversationId: string, userId: string, ttlMs: number, throttleMs: number) {
    const multi = this.redis
      .multi()
      .hset(this.key(userId), conversationId, Date.now() + ttlMs)
      .pexpire(this.key(userId), ttlMs);
    if (throttleMs > 0)
      multi.set(this.throttleKey(conversationId, userId), "1", "PX", throttleMs, "NX");
    const results = await multi.exec();
    return throttleMs <= 0 || results?.[2]?.[1] === "OK";
  }

  async stop(conversationId: string, userId: string) {
    const results = await this.redis
      .multi()
      .hget(this.key(userId), conversationId)
      .hdel(this.key(userId), conversationId)
      .del(this.throttleKey(conversationId, userId))
      .exec();
    const until = Number(results?.[0]?.[1] ?? 0);
    return until > Date.now();
  }

  async active(userId: string) {
    const entries = await this.redis.hgetall(this.key(userId));
    const now = Date.now();
    return Object.entries(entries)
      .filter(([, until]) => Number(until) > now)
      .map(([conversationId]) => conversationId);
  }
}

class MemoryTypingStore implements TypingStore {
  peek(): null {
    return null;
  }

  private readonly until = new Map<string, number>();
  private readonly throttledUntil = new Map<string, number>();

  async start(conversationId: string, userId: string, ttlMs: number, throttleMs: number) {
    const key = `${conversationId}\u0000${userId}`;
    const now = Date.now();
    this.until.set(key, now + ttlMs);
    if ((this.throttledUntil.get(key) ?? 0) > now) return false;
    this.throttledUntil.set(key, now + throttleMs);
    return true;
  }

  async stop(conversationId: string, userId: string) {
    const key = `${conversationId}\u0000${userId}`;
    const until = this.until.get(key) ?? 0;
    this.until.delete(key);
    this.throttledUntil.delete(key);
    return until > Date.now();
  }

  async active(userId: string) {
    const now = Date.now();
    const result: string[] = [];
    for (const [key, until] of this.until) {
      const [conversationId, user] = key.split("\u0000");
      if (user === userId && until > now) result.push(conversationId);
      if (until <= now) this.until.delete(key);
    }
    return result;
  }
}
