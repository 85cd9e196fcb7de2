import { now } from "../lib/ipc";
import { diffCounts } from "../lib/redis-count";
import { concat, quantile, sleep } from "../lib/stats";
import type { W6ClientSpec } from "../lib/w6-client";
import { profileFile, tokens } from "./bench";
import {
  all,
  costs,
  logErrors,
  P99_LIMIT_MS,
  settle,
  snapshot,
  sum,
  viaOf,
  warmUp,
  type Sent,
  type System,
  type Variant,
  type W6Harness,
} from "./w6-harness";
import type { E2eStep, E2eVariant, EndToEndResult } from "./w6-results";

/**
 * W6a (workloads/w6-end-to-end.ts): DMs, each system its own DIRECT conversations with a sender
 * and a subscribed receiver each; every variant climbs a ladder of open-loop send rates.
 */
export const PAIRS = 100;

/** The ladder's rates and step length, and the step a --profile run profiles. */
export interface DmPlan {
  rates: number[];
  durationMs: number;
  profileRate: number;
}

type Idle = EndToEndResult["idle"][string];

/** Opens the system's pairs and measures what it does with them open and nothing sent. */
export async function openDms(h: W6Harness, system: System, tag: string): Promise<Idle> {
  const { bench, loadgens } = h;
  const senders = Array.from({ length: PAIRS }, (_, i) => `w6-${tag}-${system.name}-s${i}`);
  const receivers = Array.from({ length: PAIRS }, (_, i) => `w6-${tag}-${system.name}-r${i}`);
  await bench.seeder.users([...senders, ...receivers]);
  const conversations = await bench.seeder.direct(senders.map((s, i) => [s, receivers[i]]));
  const [senderTokens, receiverTokens] = await Promise.all([
    tokens(bench, senders),
    tokens(bench, receivers),
  ]);
  // Pair i's sender and receiver go to the same load generator, pairs round-robin.
  await Promise.all(
    loadgens.map((lg, g) =>
      lg.call("open", {
        set: `${system.name}-a`,
        kind: system.kind,
        url: system.url,
        httpUrl: system.httpUrl,
        specs: conversations
          .map((conversationId, i) => ({ conversationId, i }))
          .filter(({ i }) => i % loadgens.length === g)
          .flatMap(({ conversationId, i }): W6ClientSpec[] => [
            { token: senderTokens[i], conversationId, subscribe: false, send: true },
            { token: receiverTokens[i], conversationId, subscribe: true, send: false },
          ]),
      }),
    ),
  );
  await warmUp(h, `${system.name}-a`, viaOf(h, system));
  return idle(h, system);
}

/** What the system does with its W6a connections open and nothing sent, per second. */
async function idle(h: W6Harness, system: System): Promise<Idle> {
  await sleep(1_000);
  const before = await snapshot(h, system.process);
  await sleep(3_000);
  const after = await snapshot(h, system.process);
  const seconds = (after.cpu.at - before.cpu.at) / 1000;
  const result: Idle = {
    cpuPercent: (100 * (after.cpu.cpuMs - before.cpu.cpuMs)) / (after.cpu.at - before.cpu.at),
    sqlPerSecond: (after.statements - before.statements) / seconds,
    redisPerSecond: sum(Object.values(diffCounts(after.redis, before.redis))) / seconds,
  };
  h.bench.log(
    `  W6a ${system.name}: ${PAIRS} DMs, senders connected, receivers live; idle ${result.cpuPercent.toFixed(1)}% CPU, ${result.sqlPerSecond.toFixed(1)} SQL/s, ${result.redisPerSecond.toFixed(1)} Redis commands/s`,
  );
  return result;
}

/** One run of the variant's ladder, recorded in `out`. */
export async function dmLadder(
  h: W6Harness,
  plan: DmPlan,
  variant: Variant,
  run: number,
  out: E2eVariant,
) {
  const system = h.systems[variant.system]!;
  const steps: E2eStep[] = [];
  let misses = 0;
  await warmLadder(h, system, variant);
  for (const rate of plan.rates) {
    const step = await dmStep(h, plan, variant, run, rate);
    steps.push(step);
    // Past the p99 limit the ladder goes on, to find the most it delivers: it stops after
    // two steps that fell behind the rate asked or lost sends.
    const keptUp = step.deliveriesPerSecond >= rate * 0.9 && !step.failed && !step.lost;
    if (!keptUp && ++misses >= 2) break;
    await sleep(1_000);
  }
  out.runs.push(steps);
  out.maxRate.push(Math.max(0, ...steps.filter((s) => s.ok).map((s) => s.rate)));
  out.maxDeliveries.push(Math.max(0, ...steps.map((s) => s.deliveriesPerSecond)));
  h.bench.log(
    `  W6a run ${run + 1} ${variant.key}: highest rate with p99 ≤ ${P99_LIMIT_MS} ms ${out.maxRate.at(-1)}/s, most delivered ${Math.round(out.maxDeliveries.at(-1)!)}/s`,
  );
}

/**
 * Unmeasured: 4 s at 250/s (about 1,000 sends), so the first step does not pay for code the JIT
 * has not optimised yet, then a VACUUM of the tables sends write: otherwise autovacuum cleans up
 * after the previous variant's ladder (its updated conversation and participant rows) during
 * this one's first steps, up to a core of PostgreSQL at 100/s. The same for every variant.
 */
async function warmLadder(h: W6Harness, system: System, variant: Variant) {
  await all(h, "reset");
  const warm = (await all(h, "rate", () => ({
    set: `${system.name}-a`,
    via: variant.via,
    rate: 250 / h.loadgens.length,
    durationMs: 4_000,
    startAt: now() + 100,
  }))) as Sent[];
  await settle(h, sum(warm.map((s) => s.issued - s.failed)), 5_000);
  await h.bench.seeder.client.query("vacuum (analyze) conversation, participant, message");
  await sleep(500);
}

/** One step of the ladder: `rate` sends a second for plan.durationMs, open loop. */
async function dmStep(
  h: W6Harness,
  plan: DmPlan,
  variant: Variant,
  run: number,
  rate: number,
): Promise<E2eStep> {
  const { bench } = h;
  const system = h.systems[variant.system]!;
  await all(h, "reset");
  const profiling = bench.options.profile && run === 0 && rate === plan.profileRate;
  if (profiling) await system.process.call("profileStart");
  const before = await snapshot(h, system.process);
  const startAt = now() + 200;
  const sent = (await all(h, "rate", () => ({
    set: `${system.name}-a`,
    via: variant.via,
    rate: rate / h.loadgens.length,
    durationMs: plan.durationMs,
    startAt,
  }))) as Sent[];
  const issued = sum(sent.map((s) => s.issued));
  const failed = sum(sent.map((s) => s.failed));
  const got = await settle(h, issued - failed, 3_000);
  const after = await snapshot(h, system.process);
  if (profiling) {
    const file = profileFile(bench, `w6a-${variant.key}-${rate}`);
    await system.process.call("profileStop", { file });
    bench.log(`  profile: ${file}`);
  }
  const acks = concat(sent.map((s) => s.ackLatencies));
  const step: E2eStep = {
    rate,
    issued,
    failed,
    lost: Math.max(0, issued - failed - got.received),
    outOfOrder: got.outOfOrder,
    deliveriesPerSecond: got.received / ((got.lastAt - startAt) / 1000),
    p50: quantile(got.latencies, 0.5),
    p99: quantile(got.latencies, 0.99),
    ackP50: quantile(acks, 0.5),
    ackP99: quantile(acks, 0.99),
    lateMs: Math.max(...sent.map((s) => s.lateMs ?? 0)),
    loadgenCpuPercent: Math.max(...sent.map((s) => s.cpuPercent ?? 0)),
    ...costs(before, after, issued),
    ok: false,
  };
  step.ok =
    step.p99 <= P99_LIMIT_MS &&
    !step.failed &&
    !step.lost &&
    !got.errors &&
    step.deliveriesPerSecond >= rate * 0.95;
  logErrors(bench, sent, got);
  bench.log(
    `  W6a run ${run + 1} ${variant.key} at ${rate}/s: ${Math.round(step.deliveriesPerSecond)} delivered/s, p50 ${step.p50.toFixed(1)} ms p99 ${step.p99.toFixed(1)} ms (ack p99 ${step.ackP99.toFixed(1)}), failed ${failed}, lost ${step.lost}, out of order ${step.outOfOrder}; server ${step.cpuMsPerSend.toFixed(2)} ms CPU/send (${step.systemCpuMsPerSend.toFixed(2)} kernel; ${step.cpuPercent.toFixed(0)}%), ${step.sqlPerSend.toFixed(2)} SQL/send, Redis ${step.redisPerSend.toFixed(2)}/send (INFO ${step.redisInfoPerSend.toFixed(2)}); PostgreSQL ${step.postgresCpuMsPerSend.toFixed(2)} ms, Redis ${step.redisCpuMsPerSend.toFixed(3)} ms CPU/send; load generators ${step.loadgenCpuPercent.toFixed(0)}% CPU, ${step.lateMs.toFixed(1)} ms late`,
  );
  return step;
}
