import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { serve, settledUsage } from "../lib/ipc";

/**
 * Peer (b): Socket.IO 4 with the Redis adapter, one room per conversation, as the seeds used it.
 * Sockets join the room named in the handshake (`?conv=`) or with join/leave events.
 */
async function main() {
  const pub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  const sub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, {
    transports: ["websocket"],
    adapter: createAdapter(pub, sub, { key: `${process.env.BENCH_PREFIX}socket.io` }),
  });
  io.on("connection", (socket) => {
    const conv = socket.handshake.query.conv;
    if (typeof conv === "string" && conv) void socket.join(conv);
    socket.on("join", (room: string) => void socket.join(room));
    socket.on("leave", (room: string) => void socket.leave(room));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  serve(
    { usage: settledUsage },
    { url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, pid: process.pid },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
