import { now, serve, usage } from "../lib/ipc";
import { closeSockets } from "../lib/sockets";
import {
  openClient,
  receivedStats,
  resetReceived,
  send,
  type Client,
  type Via,
  type W6ClientSpec,
  type W6Kind,
} from "../lib/w6-client";

/**
 * W6's load generator: users of a chat, each with one socket to the system under test (the
 * service over graphql-ws, or the Socket.IO peer), who receive a conversation's messages and
 * send into it: over HTTP (`sendMessage` POSTed on the user's own keep-alive agent), as a
 * graphql-ws mutation on the socket, or as a Socket.IO "send" with an ack. Open loop at a rate
 * (each send leaves at its scheduled time, whatever the earlier ones are doing) or closed loop.
 * Every message's text carries `~index:scheduledAt~` (padded to ~120 characters), read straight
 * from the frame's bytes on receipt, so latency runs from the scheduled send time; frames are
 * never parsed as JSON, so the clients cost the same whichever system they talk to. The clients
 * and what they receive: lib/w6-client.ts; here, the sends and the commands.
 */
const clients: Client[] = [];

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
          clients.push(await openClient(params.set, params.kind, params.url, params.httpUrl, spec));
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
    reset: resetReceived,
    stats: receivedStats,
    closeAll: () => {
      const closing = clients.splice(0, clients.length);
      for (const c of closing) c.agent?.destroy();
      return closeSockets(closing.map((c) => c.socket));
    },
    usage,
  },
  { pid: process.pid },
);
