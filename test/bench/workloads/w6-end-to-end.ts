import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { BenchProcess } from "../lib/ipc";
import { now } from "../lib/ipc";
import { diffCounts } from "../lib/redis-count";
import { postgresCpuMs, redisStats } from "../lib/server-cpu";
import { concat, median, quantile, settleDeliveries, sleep } from "../lib/stats";
// Types only: importing the load generator's module would run it.
import type { Via, W6ClientSpec, W6Kind } from "../procs/w6-loadgen";
import { profileFile, tokens, type Bench } from "./bench";

/**
 * W6: a message end to end, sender to receiver, through the service and through the peer the
 * seeds would have built (procs/socketio-chat.ts: Socket.IO with the Redis adapter, the same
 * tables), driven by the same load generator (procs/w6-loadgen.ts). W6a: DMs at open-loop rates;
 * W6b: one group of 1,000, closed-loop senders. Per send: server CPU, SQL statements, Redis
 * commands, and what PostgreSQL and Redis spent.
 */
export type VariantKey = "service-http" | "service-ws" | "peer" | "floor-http" | "floor-ws";
type SystemName = "service" | "peer" | "floor";

interface Variant {
  key: VariantKey;
  name: string;
  system: SystemName;
  via: Via;
}

const VARIANTS: Variant[] = [
  { key: "service-http", name: "service, sends over HTTP", system: "service", via: "http" },
  { key: "service-ws", name: "service, sends over graphql-ws", system: "service", via: "ws" },
  { key: "peer", name: "Socket.IO peer", system: "peer", via: "socketio" },
  // procs/graphql-floor.ts: the service's stack with nothing behind it, what it costs by itself.
  { key: "floor-http", name: "stack floor, sends over HTTP", system: "floor", via: "http" },
  { key: "floor-ws", name: "stack floor, sends over graphql-ws", system: "floor", via: "ws" },
];

const P99_LIMIT_MS = 50;
const PAIRS = 100;
const ROOM_MEMBERS = 1_000;
const ROOM_SENDERS = 10;
const ROOM_SENDS = 200;

/** What a send cost the server and the shared PostgreSQL and Redis, per send. */
export interface SendCosts {
  cpuMsPerSend: number;
  /** Of cpuMsPerSend, the kernel's part (system time). */
  systemCpuMsPerSend: number;
  cpuPercent: number;
  sqlPerSend: number;
  /** Commands the server process wrote, per send, and by name (per send). */
  redisPerSend: number;
  redisBy: Record<string, number>;
  /** The same from Redis's INFO commandstats (every client of the machine's Redis). */
  redisInfoPerSend: number;
  redisInfoBy: Record<string, number>;
  /** SQL statements by shape, per send. */
  sqlBy: Record<string, number>;
  postgresCpuMsPerSend: number;
  redisCpuMsPerSend: number;
}

export interface E2eStep extends SendCosts {
  rate: number;
  issued: number;
  failed: number;
  lost: number;
  outOfOrder: number;
  /** Deliveries from the first scheduled send to the last delivery. */
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  ackP50: number;
  ackP99: number;
  /** How late the load generators issued their last send (their own lag). */
  lateMs: number;
  loadgenCpuPercent: number;
  ok: boolean;
}

export interface E2eVariant {
  key: VariantKey;
  name: string;
  runs: E2eStep[][];
  /** Per run: the highest rate with p99 ≤ 50 ms, nothing failed or lost, ≥ 95% achieved. */
  maxRate: number[];
  /** Per run: the most deliveries per second of any step. */
  maxDeliveries: number[];
}

export interface RoomRun extends SendCosts {
  sends: number;
  failed: number;
  lost: number;
  outOfOrder: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  ackP99: number;
}

export interface EndToEndResult {
  pairs: number;
  durationMs: number;
  rates: number[];
  p99LimitMs: number;
  textLength: number;
  /** Per system, with the W6a connections open and nothing sent: its background work. */
  idle: Record<string, { cpuPercent: number; sqlPerSecond: number; redisPerSecond: number }>;
  variants: E2eVariant[];
  room: {
    members: number;
    senders: number;
    sends: number;
    variants: Array<{ key: VariantKey; name: string; runs: RoomRun[] }>;
  };
}

interface System {
  name: SystemName;
  kind: W6Kind;
  url: string;
  httpUrl: string;
  process: BenchProcess;
}

interface Snapshot {
  cpu: { cpuMs: number; systemCpuMs: number; at: number };
  statements: number;
  statementsBy: Record<string, number>;
  redis: Record<string, number>;
  info: Record<string, number>;
  redisCpuMs: number;
  postgresCpuMs: number;
}

interface Stats {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  errors: number;
  errorSamples: string[];
  latencies: Float64Array;
}

interface Sent {
  issued: number;
  failed: number;
  errors: string[];
  ackLatencies: Float64Array;
  firstSentAt: number;
  lastAckAt: number;
  lateMs?: number;
  cpuPercent?: number;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const perSend = (counts: Record<string, number>, sends: number) =>
  Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, n]) => [k, n / Math.max(1, sends)]),
  );

export async function endToEnd(bench: Bench): Promise<EndToEndResult> {
  const { options } = bench;
  const wanted = options.w6Variants;
  const variants = VARIANTS.filter((v) => !wanted || wanted.some((w) => v.key.startsWith(w)));
  const rates =
    options.w6Rates ??
    (options.quick ? [100, 250, 500, 1000, 2000, 3000] : [100, 250, 500, 1000, 1500, 2000, 3000]);
  const durationMs = options.quick ? 2_000 : 4_000;
  const profileRate = options.w6Rates ? options.w6Rates[0] : 500;

  const peerProcess = variants.some((v) => v.system === "peer")
    ? await bench.start(
        "socketio-chat",
        "socketio-chat",
        {
          DATABASE_URL: bench.databaseUrl,
          JWT_SECRET: bench.secret,
          BENCH_PREFIX: bench.peerPrefix,
        },
        ["--expose-gc"],
      )
    : null;
  const floorProcess = variants.some((v) => v.system === "floor")
    ? await bench.start("graphql-floor", "graphql-floor", { JWT_SECRET: bench.secret })
    : null;
  const loadgens = await Promise.all(
    Array.from({ length: options.loadgens }, (_, i) => bench.start(`w6-loadgen${i}`, "w6-loadgen")),
  );
  const redis = new Redis(bench.redisUrl, { lazyConnect: true });
  await redis.connect();
  const serviceUrl = bench.service.info.url as string;
  const systems: Record<SystemName, System | null> = {
    service: {
      name: "service",
      kind: "graphql",
      url: serviceUrl.replace(/^http/, "ws"),
      httpUrl: serviceUrl,
      process: bench.service,
    },
    peer: peerProcess
      ? {
          name: "peer",
          kind: "socketio",
          url: peerProcess.info.url as string,
          httpUrl: "",
          process: peerProcess,
        }
      : null,
    floor: floorProcess
      ? {
          name: "floor",
          kind: "graphql",
          url: (floorProcess.info.url as string).replace(/^http/, "ws"),
          httpUrl: floorProcess.info.url as string,
          process: floorProcess,
        }
      : null,
  };
  const used = [...new Set(variants.map((v) => v.system))].map((s) => systems[s]!);

  const all = (command: string, params?: (i: number) => unknown) =>
    Promise.all(loadgens.map((lg, i) => lg.call(command, params?.(i))));
  const statsAll = async (): Promise<Stats> => {
    const parts = (await all("stats")) as Stats[];
    const firsts = parts.map((s) => s.firstAt).filter((t) => t > 0);
    return {
      received: sum(parts.map((s) => s.received)),
      firstAt: firsts.length ? Math.min(...firsts) : 0,
      lastAt: Math.max(...parts.map((s) => s.lastAt)),
      outOfOrder: sum(parts.map((s) => s.outOfOrder)),
      errors: sum(parts.map((s) => s.errors)),
      errorSamples: parts.flatMap((s) => s.errorSamples),
      latencies: concat(parts.map((s) => s.latencies)),
    };
  };
  /** Waits until `expected` deliveries arrived, or none for quietMs. */
  const settle = (expected: number, quietMs: number) =>
    settleDeliveries(statsAll, expected, quietMs);

  const snapshot = async (server: BenchProcess): Promise<Snapshot> => {
    const [cpu, statements, statementsBy, commands, info, pgCpu] = await Promise.all([
      server.call("cpu"),
      server.call<number>("statements"),
      server.call<Record<string, number>>("statementsBy"),
      server.call<Record<string, number>>("redisCommands"),
      redisStats(redis),
      postgresCpuMs(bench.seeder.client),
    ]);
    return {
      cpu,
      statements,
      statementsBy,
      redis: commands,
      info: info.calls,
      redisCpuMs: info.cpuMs,
      postgresCpuMs: pgCpu,
    };
  };
  const costs = (before: Snapshot, after: Snapshot, sends: number): SendCosts => {
    const n = Math.max(1, sends);
    const redisBy = diffCounts(after.redis, before.redis);
    const redisInfoBy = diffCounts(after.info, before.info);
    return {
      cpuMsPerSend: (after.cpu.cpuMs - before.cpu.cpuMs) / n,
      systemCpuMsPerSend: (after.cpu.systemCpuMs - before.cpu.systemCpuMs) / n,
      cpuPercent: (100 * (after.cpu.cpuMs - before.cpu.cpuMs)) / (after.cpu.at - before.cpu.at),
      sqlPerSend: (after.statements - before.statements) / n,
      sqlBy: perSend(diffCounts(after.statementsBy, before.statementsBy), n),
      redisPerSend: sum(Object.values(redisBy)) / n,
      redisBy: perSend(redisBy, n),
      redisInfoPerSend: sum(Object.values(redisInfoBy)) / n,
      redisInfoBy: perSend(redisInfoBy, n),
      postgresCpuMsPerSend: (after.postgresCpuMs - before.postgresCpuMs) / n,
      redisCpuMsPerSend: (after.redisCpuMs - before.redisCpuMs) / n,
    };
  };
  /** Opens the specs spread round-robin over the load generators. */
  const openAll = async (set: string, system: System, specs: W6ClientSpec[]) => {
    const parts: W6ClientSpec[][] = loadgens.map(() => []);
    specs.forEach((spec, i) => parts[i % parts.length].push(spec));
    await all("open", (i) => ({
      set,
      kind: system.kind,
      url: system.url,
      httpUrl: system.httpUrl,
      specs: parts[i],
    }));
  };
  /** Sends warm-up messages until every receiver of the set has seen one. */
  const warmUp = async (set: string, via: Via) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const sent = (await all("sendWarmup", () => ({ set, via }))) as Array<{
        failed: number;
        errors: string[];
      }>;
      const failed = sum(sent.map((s) => s.failed));
      if (failed) bench.log(`  W6 warm-up: ${failed} sends failed: ${sent[0].errors.join(" | ")}`);
      await sleep(500);
      const counts = (await all("warm", () => ({ set }))) as Array<{ warm: number; total: number }>;
      const warm = sum(counts.map((c) => c.warm));
      const total = sum(counts.map((c) => c.total));
      if (warm >= total) return;
      if (Date.now() > deadline) throw new Error(`W6: only ${warm} of ${total} receivers live`);
    }
  };
  const viaOf = (system: System) => variants.find((v) => v.system === system.name)!.via;
  const tag = randomUUID().slice(0, 6);

  const result: EndToEndResult = {
    pairs: PAIRS,
    durationMs,
    rates,
    p99LimitMs: P99_LIMIT_MS,
    textLength: 120, // procs/w6-loadgen.ts TEXT_LENGTH
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

  try {
    // W6a: each system its own 100 DIRECT conversations, a sender and a subscribed receiver each.
    for (const system of used) {
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
      await warmUp(`${system.name}-a`, viaOf(system));
      // What the system does with its W6a connections open and nothing sent, per second.
      await sleep(1_000);
      const before = await snapshot(system.process);
      await sleep(3_000);
      const after = await snapshot(system.process);
      const seconds = (after.cpu.at - before.cpu.at) / 1000;
      result.idle[system.name] = {
        cpuPercent: (100 * (after.cpu.cpuMs - before.cpu.cpuMs)) / (after.cpu.at - before.cpu.at),
        sqlPerSecond: (after.statements - before.statements) / seconds,
        redisPerSecond: sum(Object.values(diffCounts(after.redis, before.redis))) / seconds,
      };
      bench.log(
        `  W6a ${system.name}: ${PAIRS} DMs, senders connected, receivers live; idle ${result.idle[system.name].cpuPercent.toFixed(1)}% CPU, ${result.idle[system.name].sqlPerSecond.toFixed(1)} SQL/s, ${result.idle[system.name].redisPerSecond.toFixed(1)} Redis commands/s`,
      );
    }

    for (let run = 0; run < options.runs; run++) {
      for (const [v, variant] of variants.entries()) {
        const system = systems[variant.system]!;
        const set = `${system.name}-a`;
        const steps: E2eStep[] = [];
        let misses = 0;
        // Unmeasured: 4 s at 250/s (about 1,000 sends), so the first step does not pay for code
        // the JIT has not optimised yet; the same for every variant.
        await all("reset");
        const warm = (await all("rate", () => ({
          set,
          via: variant.via,
          rate: 250 / loadgens.length,
          durationMs: 4_000,
          startAt: now() + 100,
        }))) as Sent[];
        await settle(sum(warm.map((s) => s.issued - s.failed)), 5_000);
        await sleep(500);
        for (const rate of rates) {
          await all("reset");
          const profiling = options.profile && run === 0 && rate === profileRate;
          if (profiling) await system.process.call("profileStart");
          const before = await snapshot(system.process);
          const startAt = now() + 200;
          const sent = (await all("rate", () => ({
            set,
            via: variant.via,
            rate: rate / loadgens.length,
            durationMs,
            startAt,
          }))) as Sent[];
          const issued = sum(sent.map((s) => s.issued));
          const failed = sum(sent.map((s) => s.failed));
          const got = await settle(issued - failed, 3_000);
          const after = await snapshot(system.process);
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
          steps.push(step);
          const errors = [...sent.flatMap((s) => s.errors), ...got.errorSamples];
          if (errors.length) bench.log(`  errors: ${errors.slice(0, 3).join(" | ")}`);
          bench.log(
            `  W6a run ${run + 1} ${variant.key} at ${rate}/s: ${Math.round(step.deliveriesPerSecond)} delivered/s, p50 ${step.p50.toFixed(1)} ms p99 ${step.p99.toFixed(1)} ms (ack p99 ${step.ackP99.toFixed(1)}), failed ${failed}, lost ${step.lost}, out of order ${step.outOfOrder}; server ${step.cpuMsPerSend.toFixed(2)} ms CPU/send (${step.systemCpuMsPerSend.toFixed(2)} kernel; ${step.cpuPercent.toFixed(0)}%), ${step.sqlPerSend.toFixed(2)} SQL/send, Redis ${step.redisPerSend.toFixed(2)}/send (INFO ${step.redisInfoPerSend.toFixed(2)}); PostgreSQL ${step.postgresCpuMsPerSend.toFixed(2)} ms, Redis ${step.redisCpuMsPerSend.toFixed(3)} ms CPU/send; load generators ${step.loadgenCpuPercent.toFixed(0)}% CPU, ${step.lateMs.toFixed(1)} ms late`,
          );
          // Past the p99 limit the ladder goes on, to find the most it delivers: it stops after
          // two steps that fell behind the rate asked or lost sends.
          const keptUp = step.deliveriesPerSecond >= rate * 0.9 && !failed && !step.lost;
          if (!keptUp && ++misses >= 2) break;
          await sleep(1_000);
        }
        const out = result.variants[v];
        out.runs.push(steps);
        out.maxRate.push(Math.max(0, ...steps.filter((s) => s.ok).map((s) => s.rate)));
        out.maxDeliveries.push(Math.max(0, ...steps.map((s) => s.deliveriesPerSecond)));
        bench.log(
          `  W6a run ${run + 1} ${variant.key}: highest rate with p99 ≤ ${P99_LIMIT_MS} ms ${out.maxRate.at(-1)}/s, most delivered ${Math.round(out.maxDeliveries.at(-1)!)}/s`,
        );
      }
    }
    await all("closeAll");

    // W6b: one GROUP of 1,000 per system, all subscribed; 10 of them send, closed loop.
    const rooms = new Map<string, string>();
    for (const system of used) {
      const members = Array.from(
        { length: ROOM_MEMBERS },
        (_, i) => `w6b-${tag}-${system.name}-${i}`,
      );
      await bench.seeder.users(members);
      const conversationId = await bench.seeder.group(members, "W6 room");
      rooms.set(system.name, conversationId);
      const memberTokens = await tokens(bench, members);
      await openAll(
        `${system.name}-b`,
        system,
        members.map((_, i) => ({
          token: memberTokens[i],
          conversationId,
          subscribe: true,
          send: i < ROOM_SENDERS,
        })),
      );
      await warmUp(`${system.name}-b`, viaOf(system));
      bench.log(`  W6b ${system.name}: ${ROOM_MEMBERS} members live`);
    }
    for (let run = 0; run < options.runs; run++) {
      for (const [v, variant] of variants.entries()) {
        const system = systems[variant.system]!;
        await all("reset");
        const profiling = options.profile && run === 0;
        if (profiling) await system.process.call("profileStart");
        const before = await snapshot(system.process);
        const sent = (await all("closedLoop", () => ({
          set: `${system.name}-b`,
          via: variant.via,
          perSender: ROOM_SENDS / ROOM_SENDERS,
          startAt: now() + 100,
        }))) as Sent[];
        const sends = sum(sent.map((s) => s.issued));
        const failed = sum(sent.map((s) => s.failed));
        const expected = (sends - failed) * ROOM_MEMBERS;
        const got = await settle(expected, 5_000);
        const after = await snapshot(system.process);
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
        result.room.variants[v].runs.push(r);
        const errors = [...sent.flatMap((s) => s.errors), ...got.errorSamples];
        if (errors.length) bench.log(`  errors: ${errors.slice(0, 3).join(" | ")}`);
        bench.log(
          `  W6b run ${run + 1} ${variant.key}: ${Math.round(r.deliveriesPerSecond)} deliveries/s, p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms, failed ${failed}, lost ${r.lost}, out of order ${r.outOfOrder}; server ${r.cpuMsPerSend.toFixed(1)} ms CPU/send, ${r.sqlPerSend.toFixed(2)} SQL/send, Redis ${r.redisPerSend.toFixed(2)}/send`,
        );
        await sleep(1_000);
      }
    }
    await all("closeAll");
  } finally {
    redis.disconnect();
    for (const lg of loadgens) await lg.stop().catch(() => {});
    await peerProcess?.stop().catch(() => {});
    await floorProcess?.stop().catch(() => {});
  }
  for (const v of result.variants) {
    bench.log(
      `  W6a ${v.key}: highest rate with p99 ≤ ${P99_LIMIT_MS} ms ${median(v.maxRate)}/s, most delivered ${Math.round(median(v.maxDeliveries))}/s`,
    );
  }
  return result;
}
