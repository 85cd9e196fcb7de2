import { Client } from "pg";
import { TEST_JWT_SECRET } from "../../helpers/env";
import type { RedisServer } from "../../helpers/redis-server";
import { buildService, ServiceInstance, sleep, startRedis, waitFor } from "./infra";
import { PostgresCluster } from "./postgres";
import type { Rng } from "./rng";
import type { Target } from "./world";

/** Settings of every instance; small bounds so that faults show within seconds. */
export function instanceEnv(pg: PostgresCluster, redis: RedisServer): Record<string, string> {
  return {
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "info",
    DATABASE_URL: pg.url(),
    DATABASE_POOL_MAX: "10",
    DATABASE_ACQUIRE_TIMEOUT_MS: "3000",
    REDIS_URL: redis.url,
    REDIS_PREFIX: "chaos:",
    JWT_SECRET: TEST_JWT_SECRET,
    STREAM_RESYNC_MS: "1000",
    WS_MAX_BUFFERED_BYTES: "262144",
    WS_PING_MS: "10000",
    MESSAGE_MAX_LENGTH: "70000",
    MAX_CONNECTIONS_PER_USER: "50",
    // Load generators, not people: the limits are not under test here.
    MESSAGE_RATE_LIMIT: "1000000",
    CONVERSATION_RATE_LIMIT: "1000000",
    CONNECTION_RATE_LIMIT: "1000000",
    TYPING_RATE_LIMIT: "1000000",
    REPORT_RATE_LIMIT: "1000000",
    FLOOD_MAX_REPEATS: "1000000",
  };
}

/** The service as it runs in production, several instances, on a PostgreSQL and a Redis of its own. */
export class ChaosCluster {
  /** Running instances, in the order started; killed ones leave at once. */
  readonly instances: ServiceInstance[] = [];
  readonly retired: ServiceInstance[] = [];
  /** Instances that exited without the test killing them. */
  readonly crashes: string[] = [];
  /** Scenarios' clients, stopped with the cluster (a timed-out test must not run on). */
  readonly onStop = new Set<() => Promise<void>>();
  private started = 0;

  private constructor(
    readonly pg: PostgresCluster,
    readonly redis: RedisServer,
    private readonly build: ReturnType<typeof buildService>,
    readonly size: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(size: number, env: Record<string, string> = {}): Promise<ChaosCluster> {
    const [pg, redis] = await Promise.all([PostgresCluster.create(), startRedis()]);
    const build = buildService();
    const cluster = new ChaosCluster(pg, redis, build, size, {
      ...instanceEnv(pg, redis),
      ...env,
    });
    try {
      await cluster.startInstance();
      await Promise.all(Array.from({ length: size - 1 }, () => cluster.startInstance()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Starts an instance, retrying while a dependency is down (a fault may be under way). */
  async startInstance(): Promise<ServiceInstance> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const instance = await ServiceInstance.start(
          this.build.main,
          this.env,
          `i${++this.started}`,
        );
        this.instances.push(instance);
        void instance.exited.then(() => {
          if (!instance.killedByTest) {
            this.crashes.push(`${instance.name} exited by itself:\n${instance.tail.join("\n")}`);
          }
          this.retire(instance);
        });
        return instance;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  }

  kill(instance: ServiceInstance): void {
    this.retire(instance);
    instance.kill();
  }

  pickInstance(rng: Rng): Target | null {
    return this.instances.length ? rng.pick(this.instances) : null;
  }

  /** Back to full strength: both dependencies up, `size` instances running and ready. */
  async heal(): Promise<void> {
    await this.pg.start();
    await this.redis.start();
    while (this.instances.length < this.size) await this.startInstance();
    await Promise.all(
      this.instances.map((instance) =>
        waitFor(
          `${instance.name} ready`,
          async () => (await ready(instance)).status === 200,
          30_000,
        ),
      ),
    );
  }

  /** One statement on a fresh connection (the cluster may have restarted since the last). */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.pg.url(), connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end().catch(() => {});
    }
  }

  memory(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const instance of this.instances) out[instance.name] = instance.rssBytes() ?? 0;
    return out;
  }

  requestError(requestId: string): string | undefined {
    for (const instance of [...this.instances, ...this.retired]) {
      const error = instance.requestErrors.get(requestId);
      if (error) return error;
    }
    return undefined;
  }

  /** Warnings and errors the instances logged, by message. */
  serverLog(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const instance of [...this.retired, ...this.instances]) {
      for (const [message, count] of instance.messages) out[message] = (out[message] ?? 0) + count;
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.onStop].map((stop) => stop()));
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await Promise.all([this.pg.destroy(), this.redis.destroy()]);
    this.build.remove();
  }

  private retire(instance: ServiceInstance) {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
    if (!this.retired.includes(instance)) this.retired.push(instance);
  }
}

/** GET /ready of an instance: status and checks. */
export async function ready(instance: Target): Promise<{ status: number; checks: unknown }> {
  try {
    const response = await fetch(instance.url.replace(/\/graphql$/, "/ready"), {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { checks?: unknown };
    return { status: response.status, checks: body.checks ?? null };
  } catch (error) {
    return { status: 0, checks: String(error) };
  }
}
