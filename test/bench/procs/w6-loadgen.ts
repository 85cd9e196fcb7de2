import http from "node:http";
import WebSocket from "ws";
import { now, serve, usage } from "../lib/ipc";
import { marker, subId } from "../lib/frames";
import { closeSockets } from "../lib/sockets";

/**
 * W6's load generator: users of a chat, each with one socket to the system under test (the
 * service over graphql-ws, or the Socket.IO peer), who receive a conversation's messages and
 * send into it: over HTTP (`sendMessage` POSTed on the user's own keep-alive agent), as a
 * graphql-ws mutation on the socket, or as a Socket.IO "send" with an ack. Open loop at a rate
 * (each send leaves at its scheduled time, whatever the earlier ones are doing) or closed loop.
 * Every message's text carries `~index:scheduledAt~` (padded to ~120 characters), read straight
 * from the frame's bytes on receipt, so latency runs from the scheduled send time; frames are
 * never parsed as JSON, so the clients cost the same whichever system they talk to.
 */
export type W6Kind = "graphql" | "socketio";
export type Via = "http" | "ws" | "socketio";

export interface W6ClientSpec {
  token: string;
  conversationId: string;
  /** Receives the conversation: a messageAdded subscription, or a Socket.IO join (with ack). */
  subscribe: boolean;
  /** Sends into the conversation. */
  send: boolean;
}

/** The same fields from both systems. */
export const W6_FIELDS = "id seq text sender { id } createdAt";
const SUBSCRIBE = `subscription($conversationId: ID) { messageAdded(conversationId: $conversationId) { ${W6_FIELDS} } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq } }`;
export const TEXT_LENGTH = 120;
const FILLER =
  " and then some more words of an ordinary chat message, about the size that people type into a phone";

interface Reply {
  ok: boolean;
  body: string;
}

interface Client {
  set: string;
  kind: W6Kind;
  spec: W6ClientSpec;
  socket: WebSocket;
  httpUrl: string;
  agent: http.Agent | null;
  lastSeq: number;
  warm: boolean;
  /** The next marker index of this client's sends; 0 is the warm-up. */
  nextIndex: number;
  nextAck: number;
  acks: Map<string, (reply: Reply) => void>;
}

const SEQ_KEY = Buffer.from('"seq":');
const ACK_TIMEOUT_MS = 30_000;

const clients: Client[] = [];
let latencies: number[] = [];
let received = 0;
let firstAt = 0;
let lastAt = 0;
let outOfOrder = 0;
let errors = 0;
const errorSamples: string[] = [];

function seqOf(data: Buffer): number {
  let i = data.indexOf(SEQ_KEY);
  if (i < 0) return -1;
  let seq = 0;
  for (i += SEQ_KEY.length; data[i] >= 48 && data[i] <= 57; i++) seq = seq * 10 + data[i] - 48;
  return seq;
}

function sample(text: string) {
  if (errorSamples.length < 5) errorSamples.push(text.slice(0, 300));
}

function onMessage(client: Client, data: Buffer, at: number) {
  const m = marker(data);
  if (!m) return;
  const seq = seqOf(data);
  if (seq <= client.lastSeq) outOfOrder++;
  client.lastSeq = Math.max(client.lastSeq, seq);
  const [index, scheduledAt] = m;
  if (index === 0) {
    client.warm = true;
    return;
  }
  received++;
  if (!firstAt) firstAt = at;
  lastAt = at;
  latencies.push(at - scheduledAt);
}

function text(index: number, scheduledAt: number) {
  const head = `W6 message ~${index}:${scheduledAt.toFixed(3)}~`;
  return head + FILLER.slice(0, TEXT_LENGTH - head.length);
}

function onGraphqlFrame(client: Client, data: Buffer, at: number, ready: () => void) {
  // {"id":"…","type":"next",… (subscription events and mutation results) or a control message.
  if (data[2] === 0x69 /* i */) {
    const id = subId(data);
    const next = data.indexOf('"type":"next"') >= 0;
    if (id[0] === "s") {
      if (next) return onMessage(client, data, at);
      errors++;
      return sample(data.toString());
    }
    const ack = client.acks.get(id);
    if (!ack) return; // a mutation's `complete`, after its result
    if (next) {
      client.acks.delete(id);
      ack({ ok: data.indexOf('"errors"') < 0, body: data.toString() });
    } else if (data.indexOf('"type":"error"') >= 0) {
      client.acks.delete(id);
      ack({ ok: false, body: data.toString() });
    }
    return;
  }
  const message = data.toString();
  if (message.includes("connection_ack")) {
    if (client.spec.subscribe) {
      client.socket.send(
        JSON.stringify({
          id: "s1",
          type: "subscribe",
          payload: { query: SUBSCRIBE, variables: { conversationId: client.spec.conversationId } },
        }),
      );
    }
    ready();
  } else if (message.includes('"ping"')) client.socket.send('{"type":"pong"}');
}

function onSocketIoFrame(client: Client, data: Buffer, at: number, ready: () => void) {
  // Engine.IO type, then Socket.IO type: 42 event, 43<id> ack, 40 connected, 44 refused.
  const type = data[0];
  if (type === 0x34 /* 4 message */) {
    const packet = data[1];
    if (packet === 0x32 /* 2 event */) return onMessage(client, data, at);
    if (packet === 0x33 /* 3 ack */) {
      const end = data.indexOf(0x5b /* [ */);
      const ack = client.acks.get(data.toString("latin1", 2, end));
      if (!ack) return;
      client.acks.delete(data.toString("latin1", 2, end));
      ack({ ok: data.indexOf('"error"') < 0, body: data.toString() });
      return;
    }
    if (packet === 0x30 /* 0 connected */) {
      if (!client.spec.subscribe) return ready();
      void call(client, `["join",${JSON.stringify(client.spec.conversationId)}]`).then((reply) => {
        if (reply.ok) return ready();
        errors++;
        sample(reply.body);
        client.socket.close();
      });
      return;
    }
    if (packet === 0x34 /* 4 refused */) {
      sample(data.toString());
      client.socket.close(4403);
    }
    return;
  }
  if (type === 0x30 /* 0 open */) {
    client.socket.send(`40${JSON.stringify({ token: client.spec.token })}`);
  } else if (type === 0x32 /* 2 ping */) client.socket.send("3");
}

/** A Socket.IO event with an ack: `42<id>[…]`, answered by `43<id>[…]`. */
function call(client: Client, payload: string): Promise<Reply> {
  const id = String(client.nextAck++);
  return awaitAck(client, id, () => client.socket.send(`42${id}${payload}`));
}

function awaitAck(client: Client, id: string, write: () => void): Promise<Reply> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.acks.delete(id);
      resolve({ ok: false, body: `no answer within ${ACK_TIMEOUT_MS} ms` });
    }, ACK_TIMEOUT_MS);
    client.acks.set(id, (reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
    write();
  });
}

function post(client: Client, body: string): Promise<Reply> {
  return new Promise((resolve) => {
    const request = http.request(
      client.httpUrl,
      {
        method: "POST",
        agent: client.agent!,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${client.spec.token}`,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ ok: response.statusCode === 200 && !text.includes('"errors"'), body: text });
        });
        response.on("error", (error) => resolve({ ok: false, body: String(error) }));
      },
    );
    request.on("error", (error) => resolve({ ok: false, body: String(error) }));
    request.end(body);
  });
}

/** One send with the marker (index, scheduledAt); resolves with the system's answer. */
function send(client: Client, via: Via, index: number, scheduledAt: number): Promise<Reply> {
  const input = { conversationId: client.spec.conversationId, text: text(index, scheduledAt) };
  switch (via) {
    case "http":
      return post(client, JSON.stringify({ query: SEND, variables: { input } }));
    case "ws": {
      const id = `m${client.nextAck++}`;
      const frame = JSON.stringify({
        id,
        type: "subscribe",
        payload: { query: SEND, variables: { input } },
      });
      return awaitAck(client, id, () => client.socket.send(frame));
    }
    case "socketio":
      return call(client, `["send",${JSON.stringify(input)}]`);
  }
}

function open(set: string, kind: W6Kind, url: string, httpUrl: string, spec: W6ClientSpec) {
  return new Promise<Client>((resolve, reject) => {
    const socket = new WebSocket(url, kind === "graphql" ? "graphql-transport-ws" : undefined, {
      skipUTF8Validation: true,
      perMessageDeflate: false,
    });
    const client: Client = {
      set,
      kind,
      spec,
      socket,
      httpUrl,
      agent:
        spec.send && kind === "graphql" ? new http.Agent({ keepAlive: true, maxSockets: 6 }) : null,
      lastSeq: -1,
      warm: false,
      nextIndex: 1,
      nextAck: 1,
      acks: new Map(),
    };
    let ready = false;
    const done = () => {
      ready = true;
      resolve(client);
    };
    socket.once("error", (error) => {
      if (!ready) return reject(error);
      errors++;
      sample(String(error));
    });
    socket.once("close", (code, reason) => {
      if (!ready) reject(new Error(`closed ${code} ${reason.toString()}`));
      for (const ack of client.acks.values()) ack({ ok: false, body: `socket closed ${code}` });
      client.acks.clear();
    });
    socket.on("message", (data: Buffer) => {
      const at = now();
      if (kind === "graphql") onGraphqlFrame(client, data, at, done);
      else onSocketIoFrame(client, data, at, done);
    });
    if (kind === "graphql") {
      socket.once("open", () =>
        socket.send(
          JSON.stringify({
            type: "connection_init",
            payload: { authorization: `Bearer ${spec.token}` },
          }),
        ),
      );
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SendTally {
  issued: number;
  failed: number;
  errors: string[];
  ackLatencies: number[];
  firstSentAt: number;
  lastAckAt: number;
}

function tally(): SendTally {
  return { issued: 0, failed: 0, errors: [], ackLatencies: [], firstSentAt: 0, lastAckAt: 0 };
}

function issue(t: SendTally, client: Client, via: Via, scheduledAt: number): Promise<void> {
  t.issued++;
  if (!t.firstSentAt) t.firstSentAt = scheduledAt;
  return send(client, via, client.nextIndex++, scheduledAt).then((reply) => {
    const at = now();
    t.lastAckAt = Math.max(t.lastAckAt, at);
    if (reply.ok) t.ackLatencies.push(at - scheduledAt);
    else {
      t.failed++;
      if (t.errors.length < 5) t.errors.push(reply.body.slice(0, 300));
    }
  });
}

const result = (t: SendTally) => ({ ...t, ackLatencies: Float64Array.from(t.ackLatencies) });

const senders = (set: string) => clients.filter((c) => c.set === set && c.spec.send);

serve(
  {
    /** Opens a set's clients, at most `concurrency` connecting at once; receivers join/subscribe. */
    open: async (params: {
      set: string;
      kind: W6Kind;
      url: string;
      httpUrl: string;
      specs: W6ClientSpec[];
      concurrency?: number;
    }) => {
      const started = now();
      let next = 0;
      const worker = async () => {
        while (next < params.specs.length) {
          const spec = params.specs[next++];
          clients.push(await open(params.set, params.kind, params.url, params.httpUrl, spec));
        }
      };
      await Promise.all(Array.from({ length: params.concurrency ?? 25 }, worker));
      return { clients: clients.length, ms: now() - started };
    },
    /** Receivers of the set that have seen a warm-up message (index 0), i.e. are live. */
    warm: (params: { set: string }) => {
      const receivers = clients.filter((c) => c.set === params.set && c.spec.subscribe);
      return { warm: receivers.filter((c) => c.warm).length, total: receivers.length };
    },
    /** One warm-up message (index 0) from each sender of the set. */
    sendWarmup: async (params: { set: string; via: Via }) => {
      const t = tally();
      await Promise.all(
        senders(params.set).map((c) =>
          send(c, params.via, 0, now()).then((reply) => {
            if (!reply.ok) {
              t.failed++;
              if (t.errors.length < 3) t.errors.push(reply.body.slice(0, 300));
            }
          }),
        ),
      );
      return { failed: t.failed, errors: t.errors };
    },
    /**
     * Open loop: `rate` sends a second in all, round-robin over the set's senders, the k-th due at
     * startAt + k/rate and issued then whatever is still unanswered. Returns once every send is
     * answered (or timed out).
     */
    rate: async (params: {
      set: string;
      via: Via;
      rate: number;
      durationMs: number;
      startAt: number;
    }) => {
      const list = senders(params.set);
      const t = tally();
      const total = list.length ? Math.round((params.rate * params.durationMs) / 1000) : 0;
      const interval = 1000 / params.rate;
      const pending: Promise<void>[] = [];
      const cpuBefore = usage();
      if (params.startAt > now()) await sleep(params.startAt - now());
      let k = 0;
      while (k < total) {
        const at = now();
        for (; k < total && params.startAt + k * interval <= at; k++) {
          pending.push(issue(t, list[k % list.length], params.via, params.startAt + k * interval));
        }
        if (k < total) await sleep(1);
      }
      const issuedBy = now();
      await Promise.all(pending);
      const cpuAfter = usage();
      return {
        ...result(t),
        lateMs: issuedBy - (params.startAt + (total - 1) * interval),
        cpuPercent: (100 * (cpuAfter.cpuMs - cpuBefore.cpuMs)) / (cpuAfter.at - cpuBefore.at),
      };
    },
    /** Closed loop: each of the set's senders sends `perSender` messages, each after the last's answer. */
    closedLoop: async (params: { set: string; via: Via; perSender: number; startAt: number }) => {
      const t = tally();
      if (params.startAt > now()) await sleep(params.startAt - now());
      await Promise.all(
        senders(params.set).map(async (c) => {
          for (let i = 0; i < params.perSender; i++) await issue(t, c, params.via, now());
        }),
      );
      return result(t);
    },
    reset: () => {
      latencies = [];
      received = 0;
      firstAt = lastAt = 0;
      outOfOrder = errors = 0;
      errorSamples.length = 0;
    },
    stats: () => ({
      received,
      firstAt,
      lastAt,
      outOfOrder,
      errors,
      errorSamples,
      latencies: Float64Array.from(latencies),
    }),
    closeAll: () => {
      const closing = clients.splice(0, clients.length);
      for (const c of closing) c.agent?.destroy();
      return closeSockets(closing.map((c) => c.socket));
    },
    usage,
  },
  { pid: process.pid },
);
