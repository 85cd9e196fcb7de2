import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
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
