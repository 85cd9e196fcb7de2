import { randomUUID } from "node:crypto";
import { quantile, sleep } from "../lib/stats";
import type { ConnectionSpec } from "../procs/loadgen";
import {
  MESSAGE_ADDED,
  MESSAGE_UPDATED,
  openAll,
  resetAll,
  settle,
  tokens,
  type Bench,
} from "./bench";
import { warmUpBySending } from "./w2-send";

interface Usage {
  rss: number;
  cpuMs: number;
  at: number;
}

export interface ConnectionsResult {
  connections: number;
  groupSize: number;
  connectSeconds: number;
  rssPerConnection: number;
  rawWsRssPerConnection: number;
  socketIoRssPerConnection: number;
  rate: number;
  p50: number[];
  p99: number[];
  lost: number;
}

const GROUP = 100;

/**
 * W3: N authenticated graphql-ws connections, each with two subscriptions (messageAdded and
 * messageUpdated of its group of 100): RSS per connection, and delivery latency at 100 sends/s
 * while they are held. Ceiling: the raw ws server's (and Socket.IO's) RSS per connection.
 */
export async function connections(bench: Bench): Promise<ConnectionsResult> {
  const { options } = bench;
  const n = Math.max(GROUP, Math.floor(options.w3Connections / GROUP) * GROUP);
  const { users, userTokens, groups } = await seedGroups(bench, n);
  // A fresh instance: its memory before and after holds nothing but these connections.
  const service = await bench.startService("service-w3");
  const url = service.info.url as string;
  const specs: ConnectionSpec[] = users.map((_, i) => {
    const conversationId = groups[Math.floor(i / GROUP)];
    return {
      token: userTokens[i],
      subscriptions: [
        { query: MESSAGE_ADDED, variables: { conversationId } },
        { query: MESSAGE_UPDATED, variables: { conversationId } },
      ],
    };
  });

  await sleep(2_000);
  const before = await service.call<Usage>("usage");
  const started = Date.now();
  await openAll(bench, "graphql", url.replace(/^http/, "ws"), specs);
  const senders = groups.map((conversationId, g) => ({
    token: userTokens[g * GROUP],
    conversationId,
  }));
  await warmUpBySending(bench, url, senders);
  const connectSeconds = (Date.now() - started) / 1000;
  await sleep(2_000);
  const after = await service.call<Usage>("usage");
  const rssPerConnection = (after.rss - before.rss) / n;
  bench.log(
    `  W3: ${n} connections, ${2 * n} subscriptions live in ${connectSeconds.toFixed(1)} s; service RSS +${((after.rss - before.rss) / 2 ** 20).toFixed(0)} MiB = ${(rssPerConnection / 1024).toFixed(1)} KB per connection`,
  );

  const result: ConnectionsResult = {
    connections: n,
    groupSize: GROUP,
    connectSeconds,
    rssPerConnection,
    rawWsRssPerConnection: NaN,
    socketIoRssPerConnection: NaN,
    rate: 100,
    p50: [],
    p99: [],
    lost: 0,
  };
  await deliveryRuns(bench, url, senders, result);
  await service.stop();
  await peerCeilings(bench, groups, n, result);
  return result;
}

/** `n` users in groups of GROUP, each group a conversation. */
async function seedGroups(bench: Bench, n: number) {
  const tag = randomUUID().slice(0, 6);
  const users = Array.from({ length: n }, (_, i) => `w3-${tag}-${i}`);
  await bench.seeder.users(users);
  const userTokens = await tokens(bench, users);
  const groups: string[] = [];
  for (let g = 0; g < n / GROUP; g++) {
    groups.push(await bench.seeder.group(users.slice(g * GROUP, (g + 1) * GROUP), "W3"));
  }
  return { users, userTokens, groups };
}

/** Per run: delivery latency at result.rate sends/s, one sender per group, all connections held. */
async function deliveryRuns(
  bench: Bench,
  url: string,
  senders: Array<{ token: string; conversationId: string }>,
  result: ConnectionsResult,
) {
  const { options } = bench;
  const { rate } = result;
  for (let run = 0; run < options.runs; run++) {
    await resetAll(bench);
    const sent = await bench.publisher.call<{ issued: number; failed: number }>("sendRate", {
      url,
      senders,
      rate,
      durationMs: options.quick ? 3_000 : 5_000,
      maxInFlight: 256,
    });
    const expected = (sent.issued - sent.failed) * GROUP;
    const got = await settle(bench, expected, 5_000);
    result.p50.push(quantile(got.latencies, 0.5));
    result.p99.push(quantile(got.latencies, 0.99));
    result.lost += Math.max(0, expected - got.received);
    bench.log(
      `  W3 run ${run + 1} at ${rate} sends/s (${rate * GROUP} deliveries/s): p50 ${result.p50.at(-1)!.toFixed(1)} ms, p99 ${result.p99.at(-1)!.toFixed(1)} ms, lost ${expected - got.received}`,
    );
  }
  await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
}

/** Ceilings: the same number of idle connections on the raw ws server and on Socket.IO. */
async function peerCeilings(bench: Bench, groups: string[], n: number, result: ConnectionsResult) {
  for (const [peer, key] of [
    [bench.raw, "rawWsRssPerConnection"],
    [bench.socketio, "socketIoRssPerConnection"],
  ] as const) {
    const idle = await peer.call<Usage>("usage");
    const kind = peer === bench.raw ? "raw" : "socketio";
    await openAll(
      bench,
      kind,
      peer.info.url,
      groups.flatMap((conv) => Array.from({ length: GROUP }, () => ({ conv }))),
    );
    await sleep(2_000);
    const held = await peer.call<Usage>("usage");
    result[key] = (held.rss - idle.rss) / n;
    bench.log(`  W3 ${peer.name}: ${(result[key] / 1024).toFixed(1)} KB per connection`);
    await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
  }
}
