import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import WebSocket, { WebSocketServer } from "ws";
import { serve, settledUsage } from "../lib/ipc";

/**
 * Ceiling (a): a raw ws server. Each Redis message on a conversation's channel is already the frame's
 * text; it is framed once (as Socket.IO's broadcast does) and the same bytes go to every socket.
 */
async function main() {
  const prefix = process.env.BENCH_PREFIX!;
  const subscriber = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  await subscriber.connect();
  const rooms = new Map<string, Set<WebSocket>>();
  const corked: Array<{ uncork(): void }> = [];
  const uncorkAll = () => {
    for (const raw of corked.splice(0)) raw.uncork();
  };
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });

  subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
    const room = rooms.get(channel.toString().slice(prefix.length));
    if (!room) return;
    const frame = (WebSocket as any).Sender.frame(message, {
      readOnly: false,
      mask: false,
      rsv1: false,
      opcode: 1,
      fin: true,
    });
    for (const socket of room) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      // Coalesce a burst into one write per socket per tick, as the service does.
      const raw = (socket as any)._socket;
      if (raw.writableCorked === 0) {
        raw.cork();
        if (corked.push(raw) === 1) setImmediate(uncorkAll);
      }
      (socket as any)._sender.sendFrame(frame);
    }
  });

  wss.on("connection", (socket, request) => {
    const conv = new URL(request.url ?? "/", "http://x").searchParams.get("conv");
    if (!conv) return socket.close(1008, "conv required");
    let room = rooms.get(conv);
    if (!room) {
      room = new Set();
      rooms.set(conv, room);
      void subscriber.subscribe(prefix + conv);
    }
    room.add(socket);
    socket.once("close", () => {
      room.delete(socket);
      if (!room.size) {
        rooms.delete(conv);
        void subscriber.unsubscribe(prefix + conv);
      }
    });
    socket.send("ready");
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  serve({ usage: settledUsage }, { url: `ws://127.0.0.1:${port}/`, pid: process.pid });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
