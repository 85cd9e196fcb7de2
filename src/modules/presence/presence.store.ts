import type { Redis } from "ioredis";

/**
 * The registry of open connections, per instance, with deadlines that each instance renews by
 * heartbeat. A user is online while any instance holds a live entry for them; the entries of an
 * instance that stopped renewing (crashed) are claimed by a surviving instance and removed.
 */
export interface PresenceStore {
  /** Adds delta to the user's connections on this instance; returns the total on live instances. */
  countConnections(userId: string, instanceId: string, delta: number, now: number): Promise<number>;
  /** Records the user on this instance; true when the user was already online somewhere. */
  markOnline(userId: string, instanceId: string, deadline: number, now: number): Promise<boolean>;
  /** Removes the user from this instance; true when they are still online elsewhere. */
  markOffline(userId: string, instanceId: string, now: number): Promise<boolean>;
  heartbeat(instanceId: string, userIds: string[], deadline: number): Promise<void>;
  /** Dead instances' users, each instance claimed by one caller only, and their entries removed. */
  claimDead(now: number): Promise<string[]>;
  online(userIds: string[], now: number): Promise<Set<string>>;
}

export function createPresenceStore(redis: Redis | null, prefix: string): PresenceStore {
  return redis ? new RedisPresenceStore(redis, prefix) : new MemoryPresenceStore();
}

/** For each key (a user's entries), 1 when an entry's deadline is after ARGV[1] (now), else 0. */
const ONLINE_SCRIPT = `
  local now = tonumber(ARGV[1])
  local flags = {}
  for i, key in ipairs(KEYS) do
    flags[i] = 0
    for _, deadline in ipairs(redis.call('HVALS', key)) do
      if tonumber(deadline) > now then
        flags[i] = 1
        break
      end
    end
  end
  return flags`;

/** Sets field ARGV[1] (this instance) of every key (a user's entries) to ARGV[2] (the deadline). */
const RENEW_SCRIPT = `
  for _, key in ipairs(KEYS) do redis.call('HSET', key, ARGV[1], ARGV[2]) end
  return #KEYS`;

/** Users renewed per heartbeat command. */
const HEARTBEAT_BATCH = 1_000;

class RedisPresenceStore implements PresenceStore {
  private readonly instances: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.instances = `${prefix}presence:instances`;
  }

  private user = (userId: string) => `${this.prefix}presence:user:${userId}`;
  private counts = (userId: string) => `${this.prefix}presence:count:${userId}`;
  private members = (instanceId: string) => `${this.prefix}presence:instance:${instanceId}`;

  async countConnections(userId: string, instanceId: string, delta: number, now: number) {
    await this.redis.hincrby(this.counts(userId), instanceId, delta);
    const counts = await this.redis.hgetall(this.counts(userId));
    const ids = Object.keys(counts);
    const deadlines = ids.length ? await this.redis.zmscore(this.instances, ...ids) : [];
    return ids.reduce(
      (total, id, i) =>
        id === instanceId || Number(deadlines[i] ?? 0) > now ? total + Number(counts[id]) : total,
      0,
    );
  }

  // Check and change in one script: two instances racing must not both announce a change.
  async markOnline(userId: string, instanceId: string, deadline: number, now: number) {
    const elsewhere = await this.redis.eval(
      `local entries = redis.call('HGETALL', KEYS[1])
       local found = 0
       for i = 1, #entries, 2 do
         if entries[i] ~= ARGV[1] and tonumber(entries[i + 1]) > tonumber(ARGV[3]) then found = 1 end
       end
       redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
       redis.call('SADD', KEYS[2], ARGV[4])
       redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
       return found`,
      3,
      this.user(userId),
      this.members(instanceId),
      this.instances,
      instanceId,
      deadline,
      now,
      userId,
    );
    return elsewhere === 1;
  }

  async markOffline(userId: string, instanceId: string, now: number) {
    const elsewhere = await this.redis.eval(
      `redis.call('HDEL', KEYS[1], ARGV[1])
       redis.call('HDEL', KEYS[2], ARGV[1])
       redis.call('SREM', KEYS[3], ARGV[3])
       for _, deadline in ipairs(redis.call('HVALS', KEYS[1])) do
         if tonumber(deadline) > tonumber(ARGV[2]) then return 1 end
       end
       return 0`,
      3,
      this.user(userId),
      this.counts(userId),
      this.members(instanceId),
      instanceId,
      now,
      userId,
    );
    return elsewhere === 1;
  }

  /**
   * The instance's deadline, then its users' in commands of HEARTBEAT_BATCH users each, one after
   * another: 10,000 connections are 11 commands, and neither this event loop nor Redis is held
   * for the whole of them at once (a MULTI of 10,000 HSETs held both for tens of milliseconds).
   */
  async heartbeat(instanceId: string, userIds: string[], deadline: number) {
    await this.redis.zadd(this.instances, deadline, instanceId);
    for (let i = 0; i < userIds.length; i += HEARTBEAT_BATCH) {
      const keys = userIds.slice(i, i + HEARTBEAT_BATCH).map(this.user);
      await this.redis.eval(RENEW_SCRIPT, keys.length, ...keys, instanceId, deadline);
    }
  }

  async claimDead(now: number) {
    const dead = await this.redis.zrangebyscore(this.instances, "-inf", now);
    const orphans: string[] = [];
    for (const instanceId of dead) {
      // ZREM succeeds for exactly one claimant.
      if ((await this.redis.zrem(this.instances, instanceId)) !== 1) continue;
      const userIds = await this.redis.smembers(this.members(instanceId));
      for (const userId of userIds) {
        await this.redis
          .multi()
          .hdel(this.user(userId), instanceId)
          .hdel(this.counts(userId), instanceId)
          .exec();
      }
      await this.redis.del(this.members(instanceId));
      orphans.push(...userIds);
    }
    return [...new Set(orphans)];
  }

  /** One command however many users: the relay asks for every recipient of a batch at once. */
  async online(userIds: string[], now: number) {
    const flags = (await this.redis.eval(
      ONLINE_SCRIPT,
      userIds.length,
      ...userIds.map(this.user),
      now,
    )) as number[];
    return new Set(userIds.filter((_, i) => flags[i] === 1));
  }
}

/** One embedded instance: its own connections are the whole truth. */
class MemoryPresenceStore implements PresenceStore {
  private readonly connections = new Map<string, number>();
  private readonly onlineUsers = new Set<string>();

  async countConnections(userId: string, _instanceId: string, delta: number) {
    const total = (this.connections.get(userId) ?? 0) + delta;
    if (total > 0) this.connections.set(userId, total);
    else this.connections.delete(userId);
    return total;
  }

  async markOnline(userId: string) {
    const was = this.onlineUsers.has(userId);
    this.onlineUsers.add(userId);
    return was;
  }

  async markOffline(userId: string) {
    this.onlineUsers.delete(userId);
    return false;
  }

  async heartbeat() {}

  async claimDead() {
    return [];
  }

  async online(userIds: string[]) {
    return new Set(userIds.filter((id) => this.onlineUsers.has(id)));
  }
}
