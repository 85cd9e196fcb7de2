import { randomUUID } from "node:crypto";
import { median, sleep } from "../lib/stats";
import { TEXT_LENGTH } from "../lib/w6-client";
import type { Bench } from "./bench";
import { dmLadder, openDms, PAIRS, type DmPlan } from "./w6a-dms";
import { openRoom, ROOM_MEMBERS, ROOM_SENDERS, ROOM_SENDS, roomRun } from "./w6b-room";
import {
  all,
  P99_LIMIT_MS,
  startHarness,
  stopHarness,
  VARIANTS,
  type Variant,
  type W6Harness,
} from "./w6-harness";
import type { EndToEndResult } from "./w6-results";

export type {
  E2eStep,
  E2eVariant,
  EndToEndResult,
  RoomRun,
  SendCosts,
  VariantKey,
} from "./w6-results";

/**
 * W6: a message end to end, sender to receiver, through the service and through the peer the
 * seeds would have built (procs/socketio-chat.ts: Socket.IO with the Redis adapter, the same
 * tables), driven by the same load generator (procs/w6-loadgen.ts). W6a: DMs at open-loop rates
 * (workloads/w6a-dms.ts); W6b: one group of 1,000, closed-loop senders (workloads/w6b-room.ts).
 * Per send: server CPU, SQL statements, Redis commands, and what PostgreSQL and Redis spent.
 */
export async function endToEnd(bench: Bench): Promise<EndToEndResult> {
  const { options } = bench;
  const wanted = options.w6Variants;
  const variants = VARIANTS.filter((v) => !wanted || wanted.some((w) => v.key.startsWith(w)));
  const plan: DmPlan = {
    rates:
      options.w6Rates ??
      (options.quick ? [100, 250, 500, 1000, 2000, 3000] : [100, 250, 500, 1000, 1500, 2000, 3000]),
    durationMs: options.quick ? 2_000 : 4_000,
    profileRate: options.w6Rates ? options.w6Rates[0] : 500,
  };
  const h = await startHarness(bench, variants);
  const tag = randomUUID().slice(0, 6);
  const result = emptyResult(variants, plan);
  try {
    await runDms(h, plan, tag, result);
    await runRooms(h, tag, result);
  } finally {
    await stopHarness(h);
  }
  for (const v of result.variants) {
    bench.log(
      `  W6a ${v.key}: highest rate with p99 ≤ ${P99_LIMIT_MS} ms ${median(v.maxRate)}/s, most delivered ${Math.round(median(v.maxDeliveries))}/s`,
    );
  }
  return result;
}

function emptyResult(variants: Variant[], plan: DmPlan): EndToEndResult {
  return {
    pairs: PAIRS,
    durationMs: plan.durationMs,
    rates: plan.rates,
    p99LimitMs: P99_LIMIT_MS,
    textLength: TEXT_LENGTH,
    idle: {},
    variants: variants.map((v) => ({
      key: v.key,
      name: v.name,
      runs: [],
      maxRate: [],
      maxDeliveries: [],
    })),
    room: {
      members: ROOM_MEMBERS,
      senders: ROOM_SENDERS,
      sends: ROOM_SENDS,
      variants: variants.map((v) => ({ key: v.key, name: v.name, runs: [] })),
    },
  };
}

/** W6a: each system its own 100 DIRECT conversations, a sender and a subscribed receiver each. */
async function runDms(h: W6Harness, plan: DmPlan, tag: string, result: EndToEndResult) {
  for (const system of h.used) result.idle[system.name] = await openDms(h, system, tag);
  for (let run = 0; run < h.bench.options.runs; run++) {
    for (const [v, variant] of h.variants.entries()) {
      await dmLadder(h, plan, variant, run, result.variants[v]);
    }
  }
  await all(h, "closeAll");
}

/** W6b: one GROUP of 1,000 per system, all subscribed; 10 of them send, closed loop. */
async function runRooms(h: W6Harness, tag: string, result: EndToEndResult) {
  for (const system of h.used) await openRoom(h, system, tag);
  for (let run = 0; run < h.bench.options.runs; run++) {
    for (const [v, variant] of h.variants.entries()) {
      result.room.variants[v].runs.push(await roomRun(h, variant, run));
      await sleep(1_000);
    }
  }
  await all(h, "closeAll");
}
