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
  blocks: "blocks",
  typing: "typing events",
  connections: "connection attempts",
  flood: "repeats of the same message",
};

/** A hash field read in the same round trip as a send's counters (whether the sender is typing). */
export interface Peek {
  key: string;
  field: string;
}

/**
 * A send's counters in one script: a point of the message limit, then (only within it) a point
 * of the flood limit for the text, and the peeked field. The same keys and fixed windows as
 * rate-limiter-flexible's RateLimiterRedis, so both count the same. A window starts with its
 * first point (INCR then PEXPIRE, atomic in the script); the time left is read only to refuse
 * (a key found without expiry gets one then). Within the limits a send costs Redis HGET and INCR
 * (and PEXPIRE for a new window), for each counter. Returns
 * [refused: 0 none, 1 messages, 2 flood, ms before the window ends, the peeked value].
 */
const SEND_SCRIPT = `
local function over(key, ms, points)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ms) end
  if n <= tonumber(points) then return false end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, ms) ttl = tonumber(ms) end
  return ttl
end
local peeked = false
if ARGV[5] ~= '' then peeked = redis.call('HGET', KEYS[3], ARGV[5]) end
local ttl = over(KEYS[1], ARGV[1], ARGV[2])
if ttl then return {1, ttl, peeked} end
if ARGV[6] == '1' then
  ttl = over(KEYS[2], ARGV[3], ARGV[4])
  if ttl then return {2, ttl, peeked} end
end
return {0, 0, peeked}`;

type SendGate = (
  rateKey: string,
  floodKey: string,
  peekKey: string,
  rateMs: number,
  ratePoints: number,
  floodMs: number,
  floodPoints: number,
  peekField: string,
  flood: "0" | "1",
) => Promise<[number, number, string | null]>;

/**
 * Counters shared by every instance through Redis (in memory when embedded), from
 * rate-limiter-flexible. If Redis is unreachable, each instance falls back to counting alone.
 */
export class RateLimiters {
  private readonly limiters = new Map<RateLimitKind, RateLimiterAbstract>();
  private readonly limits: Record<RateLimitKind, RateLimit>;
  private readonly gate: SendGate | null = null;

  constructor(
    config: Readonly<SafetyConfig>,
    redis: Redis | null,
    private readonly prefix: string,
  ) {
    const limits: Record<RateLimitKind, RateLimit> = {
      ...config.rateLimits,
      flood: { points: config.floodMaxRepeats, windowMs: config.floodWindowMs },
    };
    this.limits = limits;
    if (redis) {
      // EVALSHA, and EVAL once when Redis does not know the script yet.
      redis.defineCommand("chatSendGate", { numberOfKeys: 3, lua: SEND_SCRIPT });
      const command = (redis as unknown as Record<string, SendGate>).chatSendGate;
      this.gate = command.bind(redis);
    }
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

  /**
   * What a send costs, in one round trip with Redis: a point of the message limit and, for a
   * text, of the flood limit (`floodKey`: the user and the text's digest). Returns the peeked
   * field's value (undefined when nothing could be peeked). Without Redis, or while it does not
   * answer, the counters fall back as `consume` does.
   */
  async consumeSend(
    userId: string,
    floodKey: string | null,
    peek: Peek | null,
  ): Promise<string | null | undefined> {
    if (this.gate) {
      let result: [number, number, string | null] | null = null;
      try {
        result = await this.gate(
          `${this.prefix}rl:messages:${userId}`,
          `${this.prefix}rl:flood:${floodKey ?? ""}`,
          peek?.key ?? `${this.prefix}rl:none`,
          this.limits.messages.windowMs,
          this.limits.messages.points,
          this.limits.flood.windowMs,
          this.limits.flood.points,
          peek?.field ?? "",
          floodKey ? "1" : "0",
        );
      } catch {
        // Redis is away: count in memory, as rate-limiter-flexible's insurance does.
      }
      if (result) {
        const [refused, retryAfterMs, peeked] = result;
        if (refused)
          throw new RateLimitedError(retryAfterMs, WHAT[refused === 1 ? "messages" : "flood"]);
        return peeked ?? null;
      }
    }
    await this.consume("messages", userId);
    if (floodKey) await this.consume("flood", floodKey);
    return undefined;
  }

  /** Gives back what consumeSend took (a retried send turned out to be stored already). */
  async refundSend(userId: string, floodKey: string | null): Promise<void> {
    await Promise.all([
      this.limiters.get("messages")!.reward(userId),
      floodKey ? this.limiters.get("flood")!.reward(floodKey) : null,
    ]).catch(() => {});
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
