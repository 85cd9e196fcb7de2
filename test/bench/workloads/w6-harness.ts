import { Redis } from "ioredis";
import type { BenchProcess } from "../lib/ipc";
import { diffCounts } from "../lib/redis-count";
import { postgresCpuMs, redisStats } from "../lib/server-cpu";
import { concat, settleDeliveries, sleep } from "../lib/stats";
import type { Via, W6ClientSpec, W6Kind } from "../lib/w6-client";
import type { Bench } from "./bench";
import type { SendCosts, VariantKey } from "./w6-results";

/**
 * What W6a and W6b share (workloads/w6-end-to-end.ts): the systems under test and their
 * processes, the W6 load generators (procs/w6-loadgen.ts) and the readings taken around a phase.
 */
export type SystemName = "service" | "peer" | "floor" | "floor-io";

export interface Variant {
  key: VariantKey;
  name: string;
  system: SystemName;
  via: Via;
}

export const VARIANTS: Variant[] = [
  { key: "service-http", name: "service, sends over HTTP", system: "service", via: "http" },
  { key: "service-ws", name: "service, sends over graphql-ws", system: "service", via: "ws" },
  { key: "peer", name: "Socket.IO peer", system: "peer", via: "socketio" },
  // procs/graphql-floor.ts: the service's stack with nothing behind it, what it costs by itself.
  { key: "floor-http", name: "stack floor, sends over HTTP", system: "floor", via: "http" },
  { key: "floor-ws", name: "stack floor, sends over graphql-ws", system: "floor", via: "ws" },
  // The floor with one statement and one PUBLISH per send: the least this stack can cost.
  {
    key: "floor-io-http",
    name: "stack + least I/O, sends over HTTP",
    system: "floor-io",
    via: "http",
  },
  {
    key: "floor-io-ws",
    name: "stack + least I/O, sends over graphql-ws",
    system: "floor-io",
    via: "ws",
  },
];

export const P99_LIMIT_MS = 50;

export interface System {
  name: SystemName;
  kind: W6Kind;
  url: string;
  httpUrl: string;
  process: BenchProcess;
}

export interface Snapshot {
  cpu: { cpuMs: number; systemCpuMs: number; at: number };
  statements: number;
  statementsBy: Record<string, number>;
  redis: Record<string, number>;
  info: Record<string, number>;
  redisCpuMs: number;
  postgresCpuMs: number;
}

export interface Stats {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  errors: number;
  errorSamples: string[];
  latencies: Float64Array;
}

export interface Sent {
  issued: number;
  failed: number;
  errors: string[];
  ackLatencies: Float64Array;
  firstSentAt: number;
  lastAckAt: number;
  lateMs?: number;
  cpuPercent?: number;
}

export interface W6Harness {
  bench: Bench;
  variants: Variant[];
  systems: Record<SystemName, System | null>;
  /** The systems the variants use, each once. */
  used: System[];
  loadgens: BenchProcess[];
  /** The machine's Redis, for INFO (what every client of it did). */
  redis: Redis;
  peerProcess: BenchProcess | null;
  floorProcess: BenchProcess | null;
  floorIoProcess: BenchProcess | null;
}

export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const perSend = (counts: Record<string, number>, sends: number) =>
  Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, n]) => [k, n / Math.max(1, sends)]),
  );

/** Starts the peer and the floor if a variant uses them, and the W6 load generators. */
export async function startHarness(bench: Bench, variants: Variant[]): Promise<W6Harness> {
  const { options } = bench;
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
  const floorIoProcess = variants.some((v) => v.system === "floor-io")
    ? await bench.start("graphql-floor-io", "graphql-floor", {
        JWT_SECRET: bench.secret,
        DATABASE_URL: bench.databaseUrl,
        REDIS_URL: bench.redisUrl,
        BENCH_PREFIX: bench.peerPrefix,
      })
    : null;
  const loadgens = await Promise.all(
    Array.from({ length: options.loadgens }, (_, i) => bench.start(`w6-loadgen${i}`, "w6-loadgen")),
  );
  const redis = new Redis(bench.redisUrl, { lazyConnect: true });
  await redis.connect();
  const systems = systemsOf(bench.service, peerProcess, floorProcess, floorIoProcess);
  const used = [...new Set(variants.map((v) => v.system))].map((s) => systems[s]!);
  return {
    bench,
    variants,
    systems,
    used,
    loadgens,
    redis,
    peerProcess,
    floorProcess,
    floorIoProcess,
  };
}

function systemsOf(
  service: BenchProcess,
  peerProcess: BenchProcess | null,
  floorProcess: BenchProcess | null,
  floorIoProcess: BenchProcess | null,
): Record<SystemName, System | null> {
  const graphql = (name: SystemName, process: BenchProcess | null): System | null =>
    process && {
      name,
      kind: "graphql",
      url: (process.info.url as string).replace(/^http/, "ws"),
      httpUrl: process.info.url as string,
      process,
    };
  const serviceUrl = service.info.url as string;
  return {
    service: {
      name: "service",
      kind: "graphql",
      url: serviceUrl.replace(/^http/, "ws"),
      httpUrl: serviceUrl,
      process: service,
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
    floor: graphql("floor", floorProcess),
    "floor-io": graphql("floor-io", floorIoProcess),
  };
}

export async function stopHarness(h: W6Harness) {
  h.redis.disconnect();
  for (const lg of h.loadgens) await lg.stop().catch(() => {});
  await h.peerProcess?.stop().catch(() => {});
  await h.floorProcess?.stop().catch(() => {});
  await h.floorIoProcess?.stop().catch(() => {});
}

/** The command on every load generator, with its params (by the generator's index). */
export function all(h: W6Harness, command: string, params?: (i: number) => unknown) {
  return Promise.all(h.loadgens.map((lg, i) => lg.call(command, params?.(i))));
}

async function statsAll(h: W6Harness): Promise<Stats> {
  const parts = (await all(h, "stats")) as Stats[];
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
}

/** Waits until `expected` deliveries arrived, or none for quietMs. */
export function settle(h: W6Harness, expected: number, quietMs: number) {
  return settleDeliveries(() => statsAll(h), expected, quietMs);
}

export async function snapshot(h: W6Harness, server: BenchProcess): Promise<Snapshot> {
  const [cpu, statements, statementsBy, commands, info, pgCpu] = await Promise.all([
    server.call("cpu"),
    server.call<number>("statements"),
    server.call<Record<string, number>>("statementsBy"),
    server.call<Record<string, number>>("redisCommands"),
    redisStats(h.redis),
    postgresCpuMs(h.bench.seeder.client),
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
}

export function costs(before: Snapshot, after: Snapshot, sends: number): SendCosts {
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
}

/** Opens the specs spread round-robin over the load generators. */
export async function openAll(h: W6Harness, set: string, system: System, specs: W6ClientSpec[]) {
  const parts: W6ClientSpec[][] = h.loadgens.map(() => []);
  specs.forEach((spec, i) => parts[i % parts.length].push(spec));
  await all(h, "open", (i) => ({
    set,
    kind: system.kind,
    url: system.url,
    httpUrl: system.httpUrl,
    specs: parts[i],
  }));
}

/** Sends warm-up messages until every receiver of the set has seen one. */
export async function warmUp(h: W6Harness, set: string, via: Via) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const sent = (await all(h, "sendWarmup", () => ({ set, via }))) as Array<{
      failed: number;
      errors: string[];
    }>;
    const failed = sum(sent.map((s) => s.failed));
    if (failed) h.bench.log(`  W6 warm-up: ${failed} sends failed: ${sent[0].errors.join(" | ")}`);
    await sleep(500);
    const counts = (await all(h, "warm", () => ({ set }))) as Array<{
      warm: number;
      total: number;
    }>;
    const warm = sum(counts.map((c) => c.warm));
    const total = sum(counts.map((c) => c.total));
    if (warm >= total) return;
    if (Date.now() > deadline) throw new Error(`W6: only ${warm} of ${total} receivers live`);
  }
}

/** How the first variant on the system sends (its warm-ups go that way). */
export const viaOf = (h: W6Harness, system: System) =>
  h.variants.find((v) => v.system === system.name)!.via;

/** The errors of a phase's sends and receipts, a few of them logged. */
export function logErrors(bench: Bench, sent: Sent[], got: Stats) {
  const errors = [...sent.flatMap((s) => s.errors), ...got.errorSamples];
  if (errors.length) bench.log(`  errors: ${errors.slice(0, 3).join(" | ")}`);
}
