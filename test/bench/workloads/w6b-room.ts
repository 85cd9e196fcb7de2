import { now } from "../lib/ipc";
import { concat, quantile } from "../lib/stats";
import { profileFile, tokens } from "./bench";
import {
  all,
  costs,
  logErrors,
  openAll,
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
import type { RoomRun } from "./w6-results";

/**
 * W6b (workloads/w6-end-to-end.ts): one GROUP of 1,000 per system, all subscribed; 10 of them
 * send, closed loop.
 */
export const ROOM_MEMBERS = 1_000;
export const ROOM_SENDERS = 10;
export const ROOM_SENDS = 200;

/** Seeds the system's room and opens its members, the first ROOM_SENDERS of them also sending. */
export async function openRoom(h: W6Harness, system: System, tag: string) {
  const { bench } = h;
  const members = Array.from({ length: ROOM_MEMBERS }, (_, i) => `w6b-${tag}-${system.name}-${i}`);
  await bench.seeder.users(members);
  const conversationId = await bench.seeder.group(members, "W6 room");
  const memberTokens = await tokens(bench, members);
  await openAll(
    h,
    `${system.name}-b`,
    system,
    members.map((_, i) => ({
      token: memberTokens[i],
      conversationId,
      subscribe: true,
      send: i < ROOM_SENDERS,
    })),
  );
  await warmUp(h, `${system.name}-b`, viaOf(h, system));
  bench.log(`  W6b ${system.name}: ${ROOM_MEMBERS} members live`);
}

/** One run of the variant: ROOM_SENDS sends in all, every one delivered to every member. */
export async function roomRun(h: W6Harness, variant: Variant, run: number): Promise<RoomRun> {
  const { bench } = h;
  const system = h.systems[variant.system]!;
  await all(h, "reset");
  const profiling = bench.options.profile && run === 0;
  if (profiling) await system.process.call("profileStart");
  const before = await snapshot(h, system.process);
  const sent = (await all(h, "closedLoop", () => ({
    set: `${system.name}-b`,
    via: variant.via,
    perSender: ROOM_SENDS / ROOM_SENDERS,
    startAt: now() + 100,
  }))) as Sent[];
  const sends = sum(sent.map((s) => s.issued));
  const failed = sum(sent.map((s) => s.failed));
  const expected = (sends - failed) * ROOM_MEMBERS;
  const got = await settle(h, expected, 5_000);
  const after = await snapshot(h, system.process);
  if (profiling) {
    await system.process.call("profileStop", {
      file: profileFile(bench, `w6b-${variant.key}`),
    });
  }
  const firstSentAt = Math.min(...sent.map((s) => s.firstSentAt).filter((t) => t > 0));
  const acks = concat(sent.map((s) => s.ackLatencies));
  const r: RoomRun = {
    sends,
    failed,
    lost: Math.max(0, expected - got.received),
    outOfOrder: got.outOfOrder,
    deliveriesPerSecond: got.received / ((got.lastAt - firstSentAt) / 1000),
    p50: quantile(got.latencies, 0.5),
    p99: quantile(got.latencies, 0.99),
    ackP99: quantile(acks, 0.99),
    ...costs(before, after, sends),
  };
  logErrors(bench, sent, got);
  bench.log(
    `  W6b run ${run + 1} ${variant.key}: ${Math.round(r.deliveriesPerSecond)} deliveries/s, p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms, failed ${failed}, lost ${r.lost}, out of order ${r.outOfOrder}; server ${r.cpuMsPerSend.toFixed(1)} ms CPU/send, ${r.sqlPerSend.toFixed(2)} SQL/send, Redis ${r.redisPerSend.toFixed(2)}/send`,
  );
  return r;
}
