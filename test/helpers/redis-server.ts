import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { eventually } from "./eventually";

/** A port on 127.0.0.1 that nothing listens on right now. */
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

/** True when something on the port answers PING as Redis does (+PONG, or NOAUTH with a password). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += String(chunk);
      if (reply.includes("\r\n")) done(/^(\+PONG|-NOAUTH)/.test(reply));
    });
  });
}

export interface RedisServerOptions {
  /** Runs it in a fresh folder under the OS temp dir named with this prefix, removed by destroy(). */
  dirPrefix?: string;
  /** Called with each redis-server process started (chaos kills them when its own process exits). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * A redis-server of the test's own on a spare port, so a test can take it down and back up. No
 * persistence: a restart loses everything.
 */
export class RedisServer {
  private process: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string | null,
    private readonly onSpawn: RedisServerOptions["onSpawn"],
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const { dirPrefix, onSpawn } = options;
    const dir = dirPrefix ? fs.mkdtempSync(path.join(os.tmpdir(), dirPrefix)) : null;
    const server = new RedisServer(await freePort(), dir, onSpawn);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts it again on the same port (nothing to do while it runs); with a password, clients
   * without it get NOAUTH.
   */
  async start(password?: string): Promise<void> {
    if (this.process) return;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    args.push("--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning");
    if (this.dir) args.push("--dir", this.dir);
    if (password) args.push("--requirepass", password);
    const child = spawn("redis-server", args, { stdio: "ignore" });
    this.onSpawn?.(child);
    this.process = child;
    // A raw PING: an ioredis client disconnected mid-connect keeps a 2 s timer alive.
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
      return ping(this.port);
    }, "redis-server to answer");
  }

  /** SIGTERM shuts it down cleanly, SIGKILL as a crash would; SIGKILL follows after 10 s. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kills it and removes its folder, if it has one. */
  async destroy(): Promise<void> {
    await this.stop("SIGKILL");
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
