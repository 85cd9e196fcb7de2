import { randomUUID } from "node:crypto";
import { quantile, sleep } from "../lib/stats";
import type { ConnectionSpec } from "../procs/loadgen";
import { MESSAGE_ADDED, openAll, resetAll, settle, tokens, type Bench } from "./bench";
import { warmUpBySending } from "./w2-send";

interface Usage {
  rss: number;
  cpuMs: number;
  at: number;
}

export interface ChurnPhase {
  cpuPercent: number;
  p50: number;
  p99: number;
  lost: number;
  operationsPerSecond: number;
  errors: number;
}

export interface ChurnResult {
  churners: number;
  periodMs: number;
  listeners: number;
  rate: number;
  /** Without churn (the ceiling), then with it; one of each per run. */
  quiet: ChurnPhase[];
  churn: ChurnPhase[];
}

const CHURNERS = 500;
const LISTENERS = 100;
const PERIOD_MS = 500;
const RATE = 50;

/** The W4 service URL and its one sender (a listener, into the listeners' group). */
interface Setup {
  url: string;
  senders: Array<{ token: string; conversationId: string }>;
  durationMs: number;
}

/**
 * W4: 500 clients subscribe and unsubscribe every 500 ms (1,000 subscribe/complete pairs a
 * second) while 100 listeners of one group receive 50 sends/s: service CPU and delivery latency,
 * beside the same figures without the churn.
 */
export async function churn(bench: Bench): Promise<ChurnResult> {
  const { options } = bench;
  const durationMs = options.quick ? 4_000 : 8_000;
  const setup: Setup = { ...(await openClients(bench)), durationMs };
  const result: ChurnResult = {
    churners: CHURNERS,
    periodMs: PERIOD_MS,
    listeners: LISTENERS,
    rate: RATE,
    quiet: [],
    churn: [],
  };
  for (let run = 0; run < options.runs; run++) {
    const quiet = await phase(bench, setup, false);
    await sleep(1_000);
    const busy = await phase(bench, setup, true);
    result.quiet.push(quiet);
    result.churn.push(busy);
    bench.log(
      `  W4 run ${run + 1}: quiet CPU ${quiet.cpuPercent.toFixed(0)}% p99 ${quiet.p99.toFixed(1)} ms; churn ${Math.round(busy.operationsPerSecond)} ops/s CPU ${busy.cpuPercent.toFixed(0)}% p50 ${busy.p50.toFixed(1)} ms p99 ${busy.p99.toFixed(1)} ms, lost ${busy.lost}, errors ${busy.errors}`,
    );
    await sleep(1_000);
  }
  await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
  return result;
}

/** The listeners of one group, and the churners (in groups of 100), connected and live. */
async function openClients(bench: Bench) {
  const tag = randomUUID().slice(0, 6);
  const listenerIds = Array.from({ length: LISTENERS }, (_, i) => `w4-${tag}-l${i}`);
  const churnerIds = Array.from({ length: CHURNERS }, (_, i) => `w4-${tag}-c${i}`);
  await bench.seeder.users([...listenerIds, ...churnerIds]);
  const [listenerTokens, churnerTokens] = await Promise.all([
    tokens(bench, listenerIds),
    tokens(bench, churnerIds),
  ]);
  const room = await bench.seeder.group(listenerIds, "W4 listeners");
  const churnGroups: string[] = [];
  for (let g = 0; g < CHURNERS / 100; g++) {
    churnGroups.push(
      await bench.seeder.group(churnerIds.slice(g * 100, (g + 1) * 100), "W4 churn"),
    );
  }
  const url = bench.service.info.url as string;
  const specs: ConnectionSpec[] = [
    ...listenerIds.map((_, i) => ({
      token: listenerTokens[i],
      subscriptions: [{ query: MESSAGE_ADDED, variables: { conversationId: room } }],
    })),
    ...churnerIds.map((_, i) => ({
      token: churnerTokens[i],
      churn: true,
      subscriptions: [
        { query: MESSAGE_ADDED, variables: { conversationId: churnGroups[Math.floor(i / 100)] } },
      ],
    })),
  ];
  await openAll(bench, "graphql", url.replace(/^http/, "ws"), specs);
  const senders = [{ token: listenerTokens[0], conversationId: room }];
  await warmUpBySending(bench, url, senders);
  return { url, senders };
}

/** RATE sends/s to the listeners for durationMs, with or without the churners churning. */
async function phase(bench: Bench, setup: Setup, withChurn: boolean): Promise<ChurnPhase> {
  const { url, senders, durationMs } = setup;
  await resetAll(bench);
  const before = await bench.service.call<Usage>("cpu");
  const churning = withChurn
    ? Promise.all(
        bench.loadgens.map((lg) =>
          lg.call<{ operations: number }>("churn", { periodMs: PERIOD_MS, durationMs }),
        ),
      )
    : Promise.resolve([]);
  const sent = await bench.publisher.call<{ issued: number; failed: number }>("sendRate", {
    url,
    senders,
    rate: RATE,
    durationMs,
    maxInFlight: 64,
  });
  const ops = (await churning).reduce((n, r) => n + r.operations, 0);
  const after = await bench.service.call<Usage>("cpu");
  const expected = (sent.issued - sent.failed) * LISTENERS;
  const got = await settle(bench, expected, 5_000);
  return {
    cpuPercent: (100 * (after.cpuMs - before.cpuMs)) / (after.at - before.at),
    p50: quantile(got.latencies, 0.5),
    p99: quantile(got.latencies, 0.99),
    lost: Math.max(0, expected - got.received),
    operationsPerSecond: ops / (durationMs / 1000),
    errors: got.errors,
  };
}
