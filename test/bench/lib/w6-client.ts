import http from "node:http";
import WebSocket from "ws";
import { now } from "./ipc";
import { marker, subId } from "./frames";

/**
 * W6's clients (procs/w6-loadgen.ts): one socket each to the system under test (the service over
 * graphql-ws, or the Socket.IO peer), receiving a conversation's messages and sending into it over
 * HTTP, a graphql-ws mutation or a Socket.IO "send" with an ack. What they receive is tallied here,
 * read straight from the frames' bytes (never parsed as JSON), so the clients cost the same
 * whichever system they talk to.
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

export interface Reply {
  ok: boolean;
  body: string;
}

export interface Client {
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

let latencies: number[] = [];
let received = 0;
let firstAt = 0;
let lastAt = 0;
let outOfOrder = 0;
let errors = 0;
const errorSamples: string[] = [];

/** Forgets what was received so far. */
export function resetReceived() {
  latencies = [];
  received = 0;
  firstAt = lastAt = 0;
  outOfOrder = errors = 0;
  errorSamples.length = 0;
}

/** What the clients received since the last reset. */
export function receivedStats() {
  return {
    received,
    firstAt,
    lastAt,
    outOfOrder,
    errors,
    errorSamples,
    latencies: Float64Array.from(latencies),
  };
}

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
export function send(client: Client, via: Via, index: number, scheduledAt: number): Promise<Reply> {
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

/** One client's socket; resolves once connected (a receiver's subscribe sent, or its join acked). */
export function openClient(
  set: string,
  kind: W6Kind,
  url: string,
  httpUrl: string,
  spec: W6ClientSpec,
) {
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
