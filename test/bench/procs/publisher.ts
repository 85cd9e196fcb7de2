import http from "node:http";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { now, serve, usage } from "../lib/ipc";

/**
 * Puts events into the systems under test: Redis publishes shaped as each system expects them
 * (W1, W3, W4), or sendMessage over HTTP (W2, W3). Every event's text carries `~index:sentAt~`.
 */
type Mode = "service" | "raw" | "socketio" | "graphql";

interface Target {
  id: string;
  channel: string;
  /** The next index (1, 2, …) and, for the service, the seq it maps to. */
  index: number;
  seq: number;
  audienceJson: string;
}

const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
let io: Server | null = null;
interface TargetSet {
  mode: Mode;
  targets: Target[];
}
/** Named target sets (one per system); `use` picks the one that later calls publish to. */
const sets = new Map<string, TargetSet>();
let mode: Mode = "service";
let targets: Target[] = [];
const sender = { id: "bench-sender", displayName: "Bench Sender" };

function message(target: Target, index: number, seq: number, sentAt: number) {
  return {
    id: randomUUID(),
    conversationId: target.id,
    seq,
    senderId: sender.id,
    sender,
    kind: "TEXT",
    text: `Benchmark message ${index} ~${index}:${sentAt}~ with a few more words in it`,
    attachments: [],
    clientMessageId: null,
    createdAt: new Date(sentAt).toISOString(),
    editedAt: null,
    deletedAt: null,
  };
}

/** Publishes one event; index 0 is the warm-up event (for the service: the same seq every time). */
function publish(target: Target, index: number): Promise<unknown> {
  const sentAt = now();
  const seq = index === 0 ? target.seq : target.seq + index;
  const msg = message(target, index, seq, sentAt);
  switch (mode) {
    case "service":
      return redis.publish(
        target.channel,
        `{"message":${JSON.stringify(msg)},"audience":${target.audienceJson}}`,
      );
    case "raw":
      return redis.publish(
        target.channel,
        JSON.stringify({ type: "next", payload: { data: { messageAdded: msg } } }),
      );
    case "graphql":
      return redis.publish(target.channel, JSON.stringify(msg));
    case "socketio":
      io!.to(target.id).emit("m", msg);
      return Promise.resolve();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${token}`,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq } }`;

/**
 * Chooses the system and its conversations. For the service, `seq` is where each
 * conversation stands: the warm-up event uses seq + 1, the measured events follow it.
 */
async function setup(params: {
  name: string;
  mode: Mode;
  prefix: string;
  conversations: Array<{ id: string; audience?: string[]; seq?: number }>;
}) {
  if (params.mode === "socketio" && !io) {
    const pub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    const sub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    await Promise.all([pub.connect(), sub.connect()]);
    io = new Server({
      adapter: createAdapter(pub, sub, { key: `${params.prefix}socket.io` }),
    });
  }
  const list = params.conversations.map((c) => ({
    id: c.id,
    channel:
      params.mode === "service"
        ? `${params.prefix}conversation:${c.id}:message-added`
        : `${params.prefix}${c.id}`,
    index: 1,
    seq: (c.seq ?? 0) + 1,
    audienceJson: JSON.stringify(c.audience ?? []),
  }));
  sets.set(params.name, { mode: params.mode, targets: list });
  mode = params.mode;
  targets = list;
}

/** Makes a set chosen earlier the one that later calls publish to. */
function use(params: { name: string }) {
  const set = sets.get(params.name)!;
  mode = set.mode;
  targets = set.targets;
}

async function warmup() {
  await Promise.all(targets.map((t) => publish(t, 0)));
}

/** `events` per conversation, as fast as Redis takes them. */
async function burst(params: { events: number }) {
  const firstSentAt = now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < params.events; i++) {
    for (const target of targets) sends.push(publish(target, target.index++));
    // Let socket.io's encoder and ioredis breathe between rounds.
    if (sends.length >= 2_000) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  return { firstSentAt, lastSentAt: now(), published: params.events * targets.length };
}

/** Events spread evenly over the conversations at a fixed total rate. */
async function rate(params: { eventsPerSecond: number; durationMs: number }) {
  const started = now();
  let sent = 0;
  let next = 0;
  const total = Math.round((params.eventsPerSecond * params.durationMs) / 1000);
  while (sent < total) {
    const due = Math.min(
      total,
      Math.floor(((now() - started) / 1000) * params.eventsPerSecond) + 1,
    );
    while (sent < due) {
      const target = targets[next++ % targets.length];
      void publish(target, target.index++);
      sent++;
    }
    await sleep(1);
  }
  return { published: sent, seconds: (now() - started) / 1000 };
}

/**
 * sendMessage over HTTP at a fixed rate (open loop): each request is issued on schedule
 * unless maxInFlight are outstanding, in which case it counts as not sent.
 */
async function sendRate(params: {
  url: string;
  senders: Array<{ token: string; conversationId: string }>;
  rate: number;
  durationMs: number;
  maxInFlight: number;
}) {
  const started = now();
  const total = Math.round((params.rate * params.durationMs) / 1000);
  const counters = new Map<string, number>();
  const latencies: number[] = [];
  let issued = 0;
  let skipped = 0;
  let failed = 0;
  let inFlight = 0;
  const errors: string[] = [];
  const pending: Promise<void>[] = [];
  let n = 0;
  while (issued + skipped < total) {
    const due = Math.min(total, Math.floor(((now() - started) / 1000) * params.rate) + 1);
    while (issued + skipped < due) {
      if (inFlight >= params.maxInFlight) {
        skipped++;
        continue;
      }
      const s = params.senders[n++ % params.senders.length];
      const index = (counters.get(s.conversationId) ?? 0) + 1;
      counters.set(s.conversationId, index);
      const sentAt = now();
      const body = JSON.stringify({
        query: SEND,
        variables: {
          input: {
            conversationId: s.conversationId,
            text: `Bench ${index} ~${index}:${sentAt}~`,
          },
        },
      });
      inFlight++;
      issued++;
      pending.push(
        post(params.url, s.token, body)
          .then((r) => {
            if (r.status !== 200 || r.body.includes('"errors"')) {
              failed++;
              if (errors.length < 5) errors.push(r.body.slice(0, 300));
            } else latencies.push(now() - sentAt);
          })
          .catch((error: unknown) => {
            failed++;
            if (errors.length < 5) errors.push(String(error));
          })
          .finally(() => inFlight--),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return {
    issued,
    skipped,
    failed,
    errors,
    seconds: (now() - started) / 1000,
    latencies: Float64Array.from(latencies),
    counters: Object.fromEntries(counters),
  };
}

/** One sendMessage per sender with the warm-up marker (index 0), all at once. */
async function sendWarmup(params: {
  url: string;
  senders: Array<{ token: string; conversationId: string }>;
}) {
  let failed = 0;
  const errors: string[] = [];
  for (let i = 0; i < params.senders.length; i += 200) {
    await Promise.all(
      params.senders.slice(i, i + 200).map(async (s) => {
        const body = JSON.stringify({
          query: SEND,
          variables: {
            input: { conversationId: s.conversationId, text: `Warm ~0:${now()}~` },
          },
        });
        const r = await post(params.url, s.token, body).catch((e: unknown) => ({
          status: 0,
          body: String(e),
        }));
        if (r.status !== 200 || r.body.includes('"errors"')) {
          failed++;
          if (errors.length < 3) errors.push(r.body.slice(0, 300));
        }
      }),
    );
  }
  return { failed, errors };
}

async function main() {
  await redis.connect();
  serve(
    { setup, use, warmup, burst, rate, sendRate, sendWarmup, usage },
    { pid: process.pid },
    async () => {
      io?.close();
      redis.disconnect();
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
