import type { Redis } from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import type { RateLimit, SafetyConfig } from "../config";
import { RateLimitedError } from "./errors";

export type RateLimitKind = keyof SafetyConfig["rateLimits"] | "flood";

const WHAT: Record<RateLimitKind, string> = {
  messages: "messages",
  conversations: "new conversations",
  reports: "reports",
  typing: "typing events",
  connections: "connection attempts",
  flood: "repeats of the same message",
};

/**
 * Counters shared by every instance through Redis (in memory when embedded), from
 * rate-limiter-flexible. If Redis is unreachable, each instance falls back to counting alone.
 */
export class RateLimiters {
  private readonly limiters = new Map<RateLimitKind, RateLimiterAbstract>();

  constructor(config: Readonly<SafetyConfig>, redis: Redis | null, prefix: string) {
    const limits: Record<RateLimitKind, RateLimit> = {
      ...config.rateLimits,
      flood: { points: config.floodMaxRepeats, windowMs: config.floodWindowMs },
    };
    for (const [kind, limit] of Object.entries(limits) as Array<[RateLimitKind, RateLimit]>) {
      const options = {
        keyPrefix: `${prefix}rl:${kind}`,
        points: limit.points,
        duration: limit.windowMs / 1000,
      };
      this.limiters.set(
        kind,
        redis
          ? new RateLimiterRedis({
              ...options,
              storeClient: redis,
              insuranceLimiter: new RateLimiterMemory(options),
            })
          : new RateLimiterMemory(options),
      );
    }
  }

  /** Takes one point for key; RATE_LIMITED with retryAfterMs when none is left. */
  async consume(kind: RateLimitKind, key: string): Promise<void> {
    try {
      await this.limiters.get(kind)!.consume(key);
    } catch (result) {
      if (result instanceof RateLimiterRes)
        throw new RateLimitedError(result.msBeforeNext, WHAT[kind]);
      throw result;
    }
  }
}
