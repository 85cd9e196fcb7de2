import http from "node:http";
import type { webcrypto } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Pool } from "pg";
import { Server, type Socket } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { jwtVerify } from "jose";
import { serve, settledUsage, usage } from "../lib/ipc";
import { profilerHandlers } from "../lib/profiler";
import { redisCommands } from "../lib/redis-count";
import { PeerStore, type Stored } from "../lib/peer-store";

/**
 * W6's peer: the seeds' design for a chat server, done well. Socket.IO 4 with the Redis adapter
 * (one room per conversation), an HS256 JWT checked at the handshake, membership checked when a
 * socket joins a room, and a send that stores the message in one transaction under the
 * conversation's row lock (seq = last_seq + 1) in the service's own tables, then emits it to the
 * room and acknowledges the sender. Prepared statements through a `pg` pool of 10.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 5_000;

type Ack = (reply: Record<string, unknown>) => void;

async function main() {
  const store = new PeerStore(new Pool({ connectionString: process.env.DATABASE_URL, max: 10 }));
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(process.env.JWT_SECRET!),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const pub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  const sub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, {
    transports: ["websocket"],
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: `${process.env.BENCH_PREFIX}chat.socket.io` }),
  });

  io.use((socket, next) => authenticate(key, socket, next));
  io.on("connection", (socket) => {
    const userId = socket.data.userId as string;
    socket.on("join", (conversationId: unknown, ack: Ack) =>
      join(store, socket, userId, conversationId, ack),
    );
    socket.on("send", (input: { conversationId?: unknown; text?: unknown }, ack: Ack) =>
      send(store, io, userId, input, ack),
    );
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  serve(
    {
      ...profilerHandlers(),
      usage: settledUsage,
      cpu: () => usage(),
      statements: () => store.statements,
      statementsBy: () => Object.fromEntries(store.byStatement),
      redisCommands,
    },
    { url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, pid: process.pid },
    async () => {
      io.close();
      await store.pool.end();
      pub.disconnect();
      sub.disconnect();
    },
  );
}

/** The handshake: an HS256 JWT with exp and sub in `auth.token`; sub is the socket's user. */
function authenticate(key: webcrypto.CryptoKey, socket: Socket, next: (error?: Error) => void) {
  const token: unknown = socket.handshake.auth?.token;
  if (typeof token !== "string") return next(new Error("UNAUTHENTICATED"));
  jwtVerify(token, key, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] }).then(
    ({ payload }) => {
      socket.data.userId = payload.sub;
      next();
    },
    () => next(new Error("UNAUTHENTICATED")),
  );
}

/** "join": the socket enters the conversation's room if its user is a participant. */
async function join(
  store: PeerStore,
  socket: Socket,
  userId: string,
  conversationId: unknown,
  ack: Ack,
) {
  if (typeof ack !== "function") return;
  if (typeof conversationId !== "string" || !UUID.test(conversationId)) {
    return ack({ error: "BAD_USER_INPUT" });
  }
  try {
    if (!(await store.isMember(conversationId, userId))) return ack({ error: "NOT_FOUND" });
    await socket.join(conversationId);
    ack({ ok: true });
  } catch (error) {
    console.error(error);
    ack({ error: "INTERNAL" });
  }
}

/** "send": stores the message, emits it to the conversation's room, then acknowledges it. */
async function send(
  store: PeerStore,
  io: Server,
  userId: string,
  input: { conversationId?: unknown; text?: unknown },
  ack: Ack,
) {
  if (typeof ack !== "function") return;
  const conversationId = input?.conversationId;
  const text = typeof input?.text === "string" ? input.text.trim() : "";
  if (typeof conversationId !== "string" || !UUID.test(conversationId)) {
    return ack({ error: "BAD_USER_INPUT" });
  }
  if (!text || text.length > MAX_TEXT) return ack({ error: "BAD_USER_INPUT" });
  let message: Stored | null;
  try {
    message = await store.store(conversationId, userId, text);
  } catch (error) {
    console.error(error);
    return ack({ error: "INTERNAL" });
  }
  if (!message) return ack({ error: "NOT_FOUND" });
  io.to(conversationId).emit("message", {
    id: message.id,
    seq: message.seq,
    text,
    sender: { id: userId },
    createdAt: message.createdAt.toISOString(),
  });
  ack({ id: message.id, seq: message.seq });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
