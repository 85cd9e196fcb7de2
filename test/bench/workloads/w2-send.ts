import { randomUUID } from "node:crypto";
import { median, quantile, sleep } from "../lib/stats";
import { MESSAGE_ADDED, openAll, profileFile, resetAll, settle, tokens, type Bench } from "./bench";

export interface SendStep {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  httpP99: number;
  failed: number;
  skipped: number;
  lost: number;
  statementsPerSend: number;
  /** Service CPU time per send, and its CPU use over the step. */
  cpuMsPerSend: number;
  cpuPercent: number;
  ok: boolean;
}

export interface SendResult {
  pairs: number;
  /** Per run: the rates tried. */
  runs: SendStep[][];
  /** Per run: the highest rate with p99 send→deliver ≤ 50 ms, nothing failed, skipped or lost. */
  maxRate: number[];
  insertsPerSecond: number[];
  insertP99: number[];
  poolMax: number;
}

const P99_LIMIT_MS = 50;

type Sender = { token: string; conversationId: string };

/** The W2 pairs: the senders' specs for the publisher, and the conversations' first sender. */
interface Pairs {
  url: string;
  senders: string[];
  conversations: string[];
  sendSpecs: Sender[];
}

/**
 * W2: sendMessage over HTTP from many senders, each into a conversation whose other member is
 * subscribed, at increasing rates. Ceiling: single-row INSERTs through the service's own pool.
 */
export async function sendPath(bench: Bench): Promise<SendResult> {
  const { options } = bench;
  const pairs = await openPairs(bench, 100);
  const rates =
    options.w2Rates ??
    (options.quick ? [50, 100, 250, 500, 1000] : [50, 100, 250, 500, 1000, 1500, 2000, 3000]);
  const durationMs = options.quick ? 2_000 : 3_000;
  const result: SendResult = {
    pairs: pairs.senders.length,
    runs: [],
    maxRate: [],
    insertsPerSecond: [],
    insertP99: [],
    poolMax: 10,
  };
  for (let run = 0; run < options.runs; run++) {
    const steps: SendStep[] = [];
    let failures = 0;
    for (const rate of rates) {
      const step = await sendStep(bench, pairs, run, rate, durationMs);
      steps.push(step);
      if (!step.ok && ++failures >= 2) break;
      await sleep(500);
    }
    result.runs.push(steps);
    result.maxRate.push(Math.max(0, ...steps.filter((s) => s.ok).map((s) => s.rate)));
    await insertCeiling(bench, pairs, run, durationMs, result);
  }
  bench.log(`  W2: highest rate with p99 ≤ ${P99_LIMIT_MS} ms: ${median(result.maxRate)}/s`);
  await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
  return result;
}

/** `count` senders, each into a conversation of two whose other member is subscribed and live. */
async function openPairs(bench: Bench, count: number): Promise<Pairs> {
  const tag = randomUUID().slice(0, 6);
  const senders = Array.from({ length: count }, (_, i) => `w2-${tag}-s${i}`);
  const receivers = Array.from({ length: count }, (_, i) => `w2-${tag}-r${i}`);
  await bench.seeder.users([...senders, ...receivers]);
  const [senderTokens, receiverTokens] = await Promise.all([
    tokens(bench, senders),
    tokens(bench, receivers),
  ]);
  const conversations: string[] = [];
  for (let i = 0; i < count; i++) {
    conversations.push(await bench.seeder.group([senders[i], receivers[i]], "W2"));
  }
  const url = bench.service.info.url as string;
  await openAll(
    bench,
    "graphql",
    url.replace(/^http/, "ws"),
    conversations.map((id, i) => ({
      token: receiverTokens[i],
      subscriptions: [{ query: MESSAGE_ADDED, variables: { conversationId: id } }],
    })),
  );
  const sendSpecs = conversations.map((conversationId, i) => ({
    token: senderTokens[i],
    conversationId,
  }));
  await warmUpBySending(bench, url, sendSpecs);
  return { url, senders, conversations, sendSpecs };
}

/** One step: sendMessage at `rate` for durationMs, open loop, and what it cost the service. */
async function sendStep(
  bench: Bench,
  pairs: Pairs,
  run: number,
  rate: number,
  durationMs: number,
): Promise<SendStep> {
  const { options } = bench;
  await resetAll(bench);
  const profiling =
    options.profile && run === 0 && rate === (options.w2Rates ? options.w2Rates[0] : 1000);
  if (profiling) {
    await bench.service.call("profileStart");
    await sleep(300);
  }
  const before = await bench.service.call<number>("statements");
  const cpuBefore = await bench.service.call<{ cpuMs: number; at: number }>("cpu");
  const sent = await bench.publisher.call<{
    issued: number;
    skipped: number;
    failed: number;
    errors: string[];
    seconds: number;
    latencies: Float64Array;
  }>("sendRate", { url: pairs.url, senders: pairs.sendSpecs, rate, durationMs, maxInFlight: 512 });
  const expected = sent.issued - sent.failed;
  const got = await settle(bench, expected, 5_000);
  const statements = (await bench.service.call<number>("statements")) - before;
  const cpuAfter = await bench.service.call<{ cpuMs: number; at: number }>("cpu");
  if (profiling) {
    await bench.service.call("profileStop", { file: profileFile(bench, `w2-${rate}`) });
  }
  const step: SendStep = {
    rate,
    achieved: (sent.issued - sent.failed) / sent.seconds,
    p50: quantile(got.latencies, 0.5),
    p99: quantile(got.latencies, 0.99),
    httpP99: quantile(sent.latencies, 0.99),
    failed: sent.failed,
    skipped: sent.skipped,
    lost: Math.max(0, expected - got.received),
    statementsPerSend: statements / Math.max(1, sent.issued),
    cpuMsPerSend: (cpuAfter.cpuMs - cpuBefore.cpuMs) / Math.max(1, sent.issued),
    cpuPercent: (100 * (cpuAfter.cpuMs - cpuBefore.cpuMs)) / (cpuAfter.at - cpuBefore.at),
    ok: false,
  };
  step.ok =
    step.p99 <= P99_LIMIT_MS &&
    !step.failed &&
    !step.skipped &&
    !step.lost &&
    step.achieved >= rate * 0.95;
  if (sent.errors.length) bench.log(`  errors: ${sent.errors.join(" | ")}`);
  bench.log(
    `  W2 run ${run + 1} at ${rate}/s: achieved ${Math.round(step.achieved)}/s, deliver p50 ${step.p50.toFixed(1)} ms p99 ${step.p99.toFixed(1)} ms, http p99 ${step.httpP99.toFixed(1)} ms, failed ${step.failed}, skipped ${step.skipped}, lost ${step.lost}, ${step.statementsPerSend.toFixed(1)} statements/send, ${step.cpuMsPerSend.toFixed(2)} ms CPU/send (${step.cpuPercent.toFixed(0)}%)`,
  );
  return step;
}

/** The ceiling in the same run: single-row INSERTs through the same pool. */
async function insertCeiling(
  bench: Bench,
  pairs: Pairs,
  run: number,
  durationMs: number,
  result: SendResult,
) {
  const ceiling = await bench.service.call<{
    inserts: number;
    seconds: number;
    latencies: number[];
  }>("insertCeiling", {
    conversationId: pairs.conversations[0],
    senderId: pairs.senders[0],
    firstSeq: 1_000_000 + run * 10_000_000,
    durationMs,
  });
  result.insertsPerSecond.push(ceiling.inserts / ceiling.seconds);
  result.insertP99.push(quantile(ceiling.latencies, 0.99));
  bench.log(
    `  W2 run ${run + 1} ceiling: ${Math.round(ceiling.inserts / ceiling.seconds)} inserts/s`,
  );
}

/** Sends warm-up messages until every subscriber has seen one. */
export async function warmUpBySending(
  bench: Bench,
  url: string,
  senders: Sender[],
  timeoutMs = 180_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = await bench.publisher.call<{ failed: number; errors: string[] }>("sendWarmup", {
      url,
      senders,
    });
    if (sent.failed) bench.log(`  warm-up sends failed: ${sent.failed} ${sent.errors.join(" | ")}`);
    await sleep(500);
    const counts = await Promise.all(
      bench.loadgens.map((lg) => lg.call<{ warm: number; total: number }>("warm")),
    );
    const warm = counts.reduce((n, c) => n + c.warm, 0);
    const total = counts.reduce((n, c) => n + c.total, 0);
    if (warm >= total) return;
    if (Date.now() > deadline) throw new Error(`only ${warm} of ${total} subscriptions went live`);
  }
}
