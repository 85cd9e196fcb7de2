import WebSocket from "ws";
import { now, serve, usage } from "../lib/ipc";
import { marker, subId } from "../lib/frames";
import { closeSockets } from "../lib/sockets";

/**
 * A load generator: holds client connections to one of the systems under test and records what
 * arrives. Frames are never parsed as JSON: each event's text carries a marker `~index:sentAt~`,
 * read straight from the bytes, so the clients cost the same whichever server they talk to.
 */
export type Kind = "raw" | "socketio" | "graphql";

export interface SubscriptionSpec {
  query: string;
  variables: Record<string, unknown>;
}

export interface ConnectionSpec {
  /** raw and socketio: the conversation (room) to join. */
  conv?: string;
  /** graphql: connection_init authorization. */
  token?: string;
  subscriptions?: SubscriptionSpec[];
  /** W4: this connection subscribes and unsubscribes on a timer. */
  churn?: boolean;
  /** Which system the connection belongs to (W1 holds connections to all of them at once). */
  group?: string;
}

interface Sub {
  received: number;
  lastIndex: number;
  warm: boolean;
}

interface Connection {
  kind: Kind;
  socket: WebSocket;
  spec: ConnectionSpec;
  subs: Map<string, Sub>;
  nextId: number;
}

const connections: Connection[] = [];
let latencies: number[] = [];
let received = 0;
let firstAt = 0;
let lastAt = 0;
let outOfOrder = 0;
let errors = 0;
let completes = 0;
const errorSamples: string[] = [];

function onEvent(conn: Connection, id: string, data: Buffer, at: number) {
  const m = marker(data);
  if (!m) return;
  const [index, sentAt] = m;
  let sub = conn.subs.get(id);
  if (!sub) conn.subs.set(id, (sub = { received: 0, lastIndex: -1, warm: false }));
  if (index === 0) {
    sub.warm = true;
    return;
  }
  if (index <= sub.lastIndex) outOfOrder++;
  sub.lastIndex = index;
  sub.received++;
  received++;
  if (!firstAt) firstAt = at;
  lastAt = at;
  latencies.push(at - sentAt);
}

function open(kind: Kind, url: string, spec: ConnectionSpec): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const target =
      kind === "graphql"
        ? url
        : `${url}${url.includes("?") ? "&" : "?"}conv=${encodeURIComponent(spec.conv ?? "")}`;
    const socket = new WebSocket(target, kind === "graphql" ? "graphql-transport-ws" : undefined, {
      skipUTF8Validation: true,
      perMessageDeflate: false,
    });
    const conn: Connection = { kind, socket, spec, subs: new Map(), nextId: 1 };
    let ready = false;
    const done = () => {
      ready = true;
      resolve(conn);
    };
    socket.once("error", (error) => (ready ? errors++ : reject(error)));
    socket.once("close", (code, reason) => {
      if (!ready) reject(new Error(`closed ${code} ${reason.toString()}`));
    });
    socket.on("message", (data: Buffer) => {
      const at = now();
      if (kind === "graphql") {
        // {"id":"…","type":"next",… or {"type":"connection_ack"}
        if (data[2] === 0x69 /* i */) {
          if (data.indexOf('"type":"next"') < 0) {
            if (data.indexOf('"type":"complete"') >= 0) completes++;
            else {
              errors++;
              if (errorSamples.length < 5) errorSamples.push(data.toString().slice(0, 300));
            }
            return;
          }
          return onEvent(conn, subId(data), data, at);
        }
        const text = data.toString();
        if (text.includes("connection_ack")) {
          if (!spec.churn) for (const s of spec.subscriptions ?? []) subscribe(conn, s);
          done();
        } else if (text.includes('"ping"')) socket.send('{"type":"pong"}');
        return;
      }
      if (kind === "socketio") {
        const type = data[0];
        if (type === 0x34 /* 4 message */ && data[1] === 0x32 /* 2 event */) {
          return onEvent(conn, "", data, at);
        }
        if (type === 0x30 /* 0 open */) socket.send("40");
        else if (type === 0x34 && data[1] === 0x30 /* 40 connected */) done();
        else if (type === 0x32 /* 2 ping */) socket.send("3");
        return;
      }
      if (!ready) return done();
      onEvent(conn, "", data, at);
    });
    socket.once("open", () => {
      if (kind === "graphql") {
        socket.send(
          JSON.stringify({
            type: "connection_init",
            payload: spec.token ? { authorization: `Bearer ${spec.token}` } : {},
          }),
        );
      }
    });
  });
}

function subscribe(conn: Connection, s: SubscriptionSpec): string {
  const id = `${connections.length}-${conn.nextId++}`;
  conn.socket.send(JSON.stringify({ id, type: "subscribe", payload: s }));
  conn.subs.set(id, { received: 0, lastIndex: -1, warm: false });
  return id;
}

serve(
  {
    /** Opens connections, at most `concurrency` connecting at once. */
    open: async (params: {
      kind: Kind;
      url: string;
      specs: ConnectionSpec[];
      concurrency?: number;
    }) => {
      const started = now();
      let next = 0;
      const worker = async () => {
        while (next < params.specs.length) {
          const spec = params.specs[next++];
          connections.push(await open(params.kind, params.url, spec));
        }
      };
      await Promise.all(Array.from({ length: params.concurrency ?? 50 }, worker));
      return { connections: connections.length, ms: now() - started };
    },
    /** How many subscriptions have seen a warm-up event (index 0), i.e. are live. */
    warm: (params: { group?: string } = {}) => {
      let warm = 0;
      let total = 0;
      for (const conn of connections) {
        if (conn.spec.churn) continue;
        if (params.group !== undefined && conn.spec.group !== params.group) continue;
        if (conn.kind !== "graphql") {
          total++;
          if (conn.subs.get("")?.warm) warm++;
          continue;
        }
        // Only the first subscription of a connection carries the events.
        const first = conn.subs.values().next().value as Sub | undefined;
        total++;
        if (first?.warm) warm++;
      }
      return { warm, total };
    },
    reset: () => {
      latencies = [];
      received = 0;
      firstAt = lastAt = 0;
      outOfOrder = errors = completes = 0;
      for (const conn of connections) for (const sub of conn.subs.values()) sub.received = 0;
    },
    stats: () => ({
      received,
      firstAt,
      lastAt,
      outOfOrder,
      errors,
      completes,
      errorSamples,
      latencies: Float64Array.from(latencies),
    }),
    /** W4: each churn connection unsubscribes and subscribes again every periodMs. */
    churn: async (params: { periodMs: number; durationMs: number }) => {
      const churners = connections.filter((c) => c.spec.churn);
      let operations = 0;
      const timers = churners.map((conn, i) => {
        let current: string | null = null;
        const tick = () => {
          if (conn.kind === "graphql") {
            if (current) conn.socket.send(JSON.stringify({ id: current, type: "complete" }));
            current = subscribe(conn, conn.spec.subscriptions![0]);
          } else {
            const room = JSON.stringify(conn.spec.subscriptions![0].variables.conversationId);
            if (current) conn.socket.send(`42["leave",${room}]`);
            conn.socket.send(`42["join",${room}]`);
            current = room;
          }
          operations++;
        };
        let interval: NodeJS.Timeout | undefined;
        const start = setTimeout(
          () => {
            tick();
            interval = setInterval(tick, params.periodMs);
          },
          (i * params.periodMs) / churners.length,
        );
        return () => {
          clearTimeout(start);
          clearInterval(interval);
        };
      });
      await new Promise((resolve) => setTimeout(resolve, params.durationMs));
      for (const stop of timers) stop();
      return { operations };
    },
    closeAll: () => closeSockets(connections.splice(0, connections.length).map((c) => c.socket)),
    usage,
  },
  { pid: process.pid },
);
