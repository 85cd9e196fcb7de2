import { Command } from "ioredis";

/**
 * Counts the Redis commands this process writes, by name: every ioredis client of the process
 * (the app's, rate-limiter-flexible's, an adapter's) serialises each command once, through
 * Command#toWritable, whether sent alone, pipelined or in MULTI.
 */
const counts = new Map<string, number>();
const proto = Command.prototype as unknown as { toWritable(socket: unknown): unknown };
const toWritable = proto.toWritable;
proto.toWritable = function (this: Command, socket: unknown) {
  counts.set(this.name, (counts.get(this.name) ?? 0) + 1);
  return toWritable.call(this, socket);
};

/** Commands written so far, by name. */
export function redisCommands(): Record<string, number> {
  return Object.fromEntries(counts);
}

/** after − before, by name, without zeros. */
export function diffCounts(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d) out[name] = d;
  }
  return out;
}
