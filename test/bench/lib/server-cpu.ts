import { execFileSync } from "node:child_process";
import fs from "node:fs";
import type { Client } from "pg";
import type { Redis } from "ioredis";

/**
 * What the machine's PostgreSQL and Redis spend: CPU of the PostgreSQL cluster (the postmaster,
 * its live children and what its exited children used) from /proc, Redis's own CPU and
 * `INFO commandstats` call counts. Both servers are shared with anything else on the machine.
 */
let ticksPerSecond = 0;
let postmaster = 0;

function stat(pid: number): number[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the command name, which is in parentheses and may hold spaces.
    return text
      .slice(text.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
  } catch {
    return null;
  }
}

/** CPU milliseconds the PostgreSQL cluster serving `pg` has used so far; NaN without /proc. */
export async function postgresCpuMs(pg: Client): Promise<number> {
  if (!ticksPerSecond) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  if (!postmaster) {
    const { rows } = await pg.query<{ pid: number }>("select pg_backend_pid() as pid");
    // stat fields from the third on: state, ppid, …; utime is field 14, so index 11 here.
    postmaster = stat(rows[0].pid)?.[1] ?? -1;
  }
  const own = stat(postmaster);
  if (!own) return NaN;
  let ticks = own[11] + own[12] + own[13] + own[14];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(Number(entry));
    if (fields && fields[1] === postmaster) ticks += fields[11] + fields[12];
  }
  return (ticks * 1000) / ticksPerSecond;
}

export interface RedisStats {
  /** Calls by command since Redis started, without INFO (the bench's own). */
  calls: Record<string, number>;
  cpuMs: number;
}

export async function redisStats(redis: Redis): Promise<RedisStats> {
  const [commands, cpu] = await Promise.all([redis.info("commandstats"), redis.info("cpu")]);
  const calls: Record<string, number> = {};
  for (const match of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== "info") calls[match[1]] = Number(match[2]);
  }
  const seconds = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, "m").exec(cpu)?.[1]);
  return { calls, cpuMs: 1000 * (seconds("used_cpu_sys") + seconds("used_cpu_user")) };
}
