import os from "node:os";
import { Client } from "pg";
import { Redis } from "ioredis";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
  loadAverage: number[];
  /** Milliseconds for a 10^8-iteration loop on one core: this machine's speed at the time. */
  calibrationMs: number;
}

export async function describeMachine(databaseUrl: string, redisUrl: string): Promise<Machine> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  const { rows } = await pg.query<{ server_version: string }>("show server_version");
  await pg.end();
  const redis = new Redis(redisUrl);
  const info = await redis.info("server");
  redis.disconnect();
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: rows[0].server_version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
    loadAverage: os.loadavg(),
    calibrationMs: calibrate(),
  };
}

function calibrate(): number {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x += i;
  if (x < 0) console.log(x);
  return Math.round(performance.now() - started);
}
