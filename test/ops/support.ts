import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { Client } from "pg";
import { TEST_ADMIN_DATABASE_URL } from "../helpers/env";
import type { MessageCreatedEvent } from "../../src/modules/notifications/notification.events";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `until` returns a truthy value; polls every 20 ms, fails after timeoutMs. */
export async function eventually<T>(
  until: () => Promise<T> | T,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await until();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when something on the port answers PING as Redis does (+PONG, or NOAUTH with a password). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("error", () => resolve(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      resolve(/^(\+PONG|-NOAUTH)/.test(String(data)));
      socket.destroy();
    });
  });
}

/** A redis-server of the test's own on a spare port, so a test can take it down and back up. */
export class RedisServer {
  private process: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it again on the same port; with a password, clients without it get NOAUTH. */
  async start(password?: string): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    args.push("--appendonly", "no", "--protected-mode", "no");
    if (password) args.push("--requirepass", password);
    const child = spawn("redis-server", args, { stdio: "ignore" });
    this.process = child;
    // A raw PING: an ioredis client disconnected mid-connect keeps a 2 s timer alive.
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
      return ping(this.port);
    }, "redis-server to answer");
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

/** A fresh, empty database on the tests' PostgreSQL, dropped by `drop()`. */
export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `chat_ops_${process.pid}_${randomUUID().slice(0, 8)}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: TEST_ADMIN_DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(`drop database if exists "${name}" with (force)`),
  };
}

/** One query on a database, with a client of its own. */
export async function query<T = Record<string, any>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A plain Redis subscriber on the notifications channel, as a push service would run it. */
export class ChannelListener {
  readonly events: MessageCreatedEvent[] = [];

  private constructor(private readonly redis: Redis) {}

  static async open(url: string, channel: string, password?: string): Promise<ChannelListener> {
    const redis = new Redis(url, { lazyConnect: true, password });
    await redis.connect();
    const listener = new ChannelListener(redis);
    redis.on("message", (_channel: string, message: string) => {
      listener.events.push(JSON.parse(message) as MessageCreatedEvent);
    });
    await redis.subscribe(channel);
    return listener;
  }

  /** This conversation's events, in the order they arrived. */
  of(conversationId: string): MessageCreatedEvent[] {
    return this.events.filter((e) => e.conversationId === conversationId);
  }

  async waitFor(conversationId: string, count: number): Promise<MessageCreatedEvent[]> {
    await eventually(
      () => this.of(conversationId).length >= count,
      `${count} events of ${conversationId} (have ${this.of(conversationId).length})`,
    );
    return this.of(conversationId);
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** A stream that keeps every line a pino logger writes to it. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...String(chunk).split("\n").filter(Boolean));
    callback();
  }

  get entries(): Array<Record<string, any>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, any>);
  }

  get text(): string {
    return this.lines.join("\n");
  }
}
