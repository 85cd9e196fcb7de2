import { randomUUID } from "node:crypto";
import { median, quantile } from "../lib/stats";
import type { ConnectionSpec } from "../procs/loadgen";
import {
  MESSAGE_ADDED,
  profileFile,
  openAll,
  resetAll,
  settle,
  tokens,
  warmUp,
  type Bench,
  type System,
} from "./bench";

export interface FanoutResult {
  system: string;
  shape: string;
  deliveriesPerSecond: number[];
  lost: number;
  outOfOrder: number;
  errors: number;
  /** The fixed rate (deliveries/s) of the latency phase. */
  fixedRate: number;
  p50: number[];
  p99: number[];
  lostAtRate: number;
  connectMs: number;
  /** The service's SQL statements while it delivered the bursts: per-event work reads nothing. */
  sqlDuringBursts: number;
}

/** Seeds (for the service), connects and subscribes one system's subscribers, until all are live. */
async function prepare(
  bench: Bench,
  system: System,
  [conversations, subscribers]: [number, number],
) {
  const shape = `${conversations}x${subscribers}`;
  const convs: Array<{ id: string; audience: string[] }> = [];
  const specs: ConnectionSpec[] = [];
  const tag = randomUUID().slice(0, 6);
  const subscription = (id: string) => [
    { query: MESSAGE_ADDED, variables: { conversationId: id } },
  ];
  if (system.mode === "service") {
    const users = Array.from({ length: conversations * subscribers }, (_, i) => `w1-${tag}-${i}`);
    await bench.seeder.users(users);
    const userTokens = await tokens(bench, users);
    for (let c = 0; c < conversations; c++) {
      const members = users.slice(c * subscribers, (c + 1) * subscribers);
      const id = await bench.seeder.group(members);
      convs.push({ id, audience: members });
      members.forEach((_, s) => {
        specs.push({
          group: system.name,
          token: userTokens[c * subscribers + s],
          subscriptions: subscription(id),
        });
      });
    }
  } else {
    for (let c = 0; c < conversations; c++) {
      const id = randomUUID();
      convs.push({ id, audience: [] });
      for (let s = 0; s < subscribers; s++) {
        specs.push({ group: system.name, conv: id, subscriptions: subscription(id) });
      }
    }
  }
  const connectMs = await openAll(bench, system.kind, system.url, specs);
  await bench.publisher.call("setup", {
    name: system.name,
    mode: system.mode,
    prefix: system.prefix,
    conversations: convs,
  });
  await warmUp(bench, system.name);
  bench.log(
    `  ${system.name}: ${specs.length} subscribers live (connected in ${Math.round(connectMs)} ms)`,
  );
  const result: FanoutResult = {
    system: system.name,
    shape,
    deliveriesPerSecond: [],
    lost: 0,
    outOfOrder: 0,
    errors: 0,
    fixedRate: 0,
    p50: [],
    p99: [],
    lostAtRate: 0,
    connectMs,
    sqlDuringBursts: 0,
  };
  return result;
}

/**
 * W1: C conversations x S subscribers, for every system at once: each holds its subscribers
 * while the runs take turns (system by system, run after run), so a noisy neighbour on the
 * machine hits all of them alike. Throughput: bursts of `events` per conversation, as fast as
 * the system delivers them. Latency: a fixed rate, half the Socket.IO peer's throughput.
 */
export async function fanout(bench: Bench, systems: System[], shape: [number, number]) {
  const { options } = bench;
  const [, subscribers] = shape;
  const total = shape[0] * subscribers;
  const results: FanoutResult[] = [];
  for (const system of systems) results.push(await prepare(bench, system, shape));

  for (let run = 0; run < options.runs; run++) {
    for (const result of results) {
      await bench.publisher.call("use", { name: result.system });
      await resetAll(bench);
      const profiling = options.profile && result.system === "service";
      if (profiling) await bench.service.call("profileStart");
      const target = result.system === "service" ? bench.service : null;
      const sqlBefore = target ? await target.call<number>("statements") : 0;
      const sent = await bench.publisher.call<{ firstSentAt: number }>("burst", {
        events: options.events,
      });
      const expected = options.events * total;
      const got = await settle(bench, expected);
      if (profiling) {
        const file = await bench.service.call("profileStop", {
          file: profileFile(bench, `w1-${result.shape}-run${run + 1}`),
        });
        bench.log(`  profile: ${file}`);
      }
      const rate = got.received / ((got.lastAt - sent.firstSentAt) / 1000);
      result.deliveriesPerSecond.push(rate);
      result.lost += expected - got.received;
      result.outOfOrder += got.outOfOrder;
      result.errors += got.errors;
      if (got.errorSamples.length) bench.log(`  errors: ${got.errorSamples.join(" | ")}`);
      if (target) result.sqlDuringBursts += (await target.call<number>("statements")) - sqlBefore;
      bench.log(
        `  run ${run + 1} ${result.system}: ${Math.round(rate)} deliveries/s, lost ${expected - got.received}${target ? `, SQL statements during the burst: ${result.sqlDuringBursts}` : ""}`,
      );
    }
  }

  const peer = results.find((r) => r.system.startsWith("Socket.IO")) ?? results[0];
  const fixedRate = median(peer.deliveriesPerSecond) / 2;
  for (let run = 0; run < options.runs; run++) {
    for (const result of results) {
      result.fixedRate = fixedRate;
      await bench.publisher.call("use", { name: result.system });
      await resetAll(bench);
      const profiling = options.profile && result.system === "service";
      if (profiling) await bench.service.call("profileStart");
      const sent = await bench.publisher.call<{ published: number }>("rate", {
        eventsPerSecond: fixedRate / subscribers,
        durationMs: options.rateMs,
      });
      const expected = sent.published * subscribers;
      const got = await settle(bench, expected);
      if (profiling) {
        await bench.service.call("profileStop", {
          file: profileFile(bench, `w1-${result.shape}-rate-run${run + 1}`),
        });
      }
      result.p50.push(quantile(got.latencies, 0.5));
      result.p99.push(quantile(got.latencies, 0.99));
      result.lostAtRate += expected - got.received;
      result.outOfOrder += got.outOfOrder;
      bench.log(
        `  run ${run + 1} ${result.system} at ${Math.round(fixedRate)}/s: p50 ${result.p50.at(-1)!.toFixed(2)} ms, p99 ${result.p99.at(-1)!.toFixed(2)} ms`,
      );
    }
  }
  await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
  return results;
}
