import WebSocket from "ws";
import type { DocumentNode } from "graphql";
import { sourceOf } from "./client";

/**
 * A graphql-transport-ws client that keeps every frame the server sent as the exact text it
 * arrived as, so tests can compare frames byte for byte.
 */
export class RawClient {
  readonly frames: string[] = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      this.frames.push(data.toString());
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("close", () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Connects and completes connection_init with the token. */
  static async connect(wsUrl: string, token: string): Promise<RawClient> {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    socket.send(
      JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }),
    );
    await client.until(() => client.frames.some((f) => f.includes('"connection_ack"')));
    return client;
  }

  subscribe(id: string, query: string | DocumentNode, variables: Record<string, unknown>): void {
    const payload = { query: sourceOf(query), variables };
    this.socket.send(JSON.stringify({ id, type: "subscribe", payload }));
  }

  /** The frames for subscription `id` of this type, as sent. */
  of(id: string, type = "next"): string[] {
    return this.frames.filter((f) => {
      const message = JSON.parse(f) as { id?: string; type: string };
      return message.id === id && message.type === type;
    });
  }

  async until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out; frames: ${this.frames.join("\n")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }
}
