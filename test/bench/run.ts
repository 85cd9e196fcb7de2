import "reflect-metadata";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { deleteKeysWithPrefix } from "../helpers/redis-keys";
import { createDatabase, dropDatabase, Seeder } from "./lib/db";
import { startProcess, type BenchProcess } from "./lib/ipc";
import { describeMachine } from "./lib/machine";
import { printReport } from "./lib/report";
import type { Bench, Options, System } from "./workloads/bench";
import { fanout, type FanoutResult } from "./workloads/w1-fanout";
import { sendPath } from "./workloads/w2-send";
import { connections } from "./workloads/w3-connections";
import { churn } from "./workloads/w4-churn";
import { history } from "./workloads/w5-history";
import { endToEnd } from "./workloads/w6-end-to-end";
import { median } from "./lib/stats";

const ROOT = path.join(__dirname, "..", "..");
const ADMIN_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRET = "bench-secret-that-is-long-enough-for-hs256!!";

const HELP = `npm run bench -- [flags]
  --quick                 one run each, shorter phases (W6a: 2 s steps), W3 with 1,000 connections, W5 with 100,000 messages
  --only W6,W1,...        run only these workloads (W6 end to end against the Socket.IO chat peer,
                          W1 fan-out, W2 send path, W3 connections, W4 churn, W5 history)
  --runs N                repetitions per figure (default 3; the table shows medians)
  --shapes 1x1000,...     W1 shapes, conversations x subscribers (default 1x1000,10x100,100x10)
  --events N              W1 events per conversation per burst (default 200)
  --w2-rates 250,500,...   W2 send rates to try
  --w6-rates 100,250,...  W6a send rates to try (default 100,250,500,1000,1500,2000,3000)
  --w6-variants a,b       W6 variants, by prefix (service-http, service-ws, peer; default all)
  --w3-connections N      W3 connections (default 10000)
  --w5-messages N         W5 conversation length (default 1000000)
  --baseline              also measure the service with the fan-out optimisation off (before/after)
  --profile               CPU profiles of the service's measured phases in bench-results/profiles/
  --systems a,b           W1 systems to run, by name prefix (socket.io, raw, plain, service)
  --loadgens N            load generator processes (default 2)`;

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(name);
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (flag("--help") || flag("-h")) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = flag("--quick");
  const only = value("--only");
  return {
    quick,
    only: only ? new Set(only.toUpperCase().split(",")) : null,
    runs: Number(value("--runs") ?? (quick ? 1 : 3)),
    events: Number(value("--events") ?? (quick ? 100 : 200)),
    shapes: (value("--shapes") ?? "1x1000,10x100,100x10")
      .split(",")
      .map((s) => s.split("x").map(Number) as [number, number]),
    rateMs: quick ? 1_500 : 3_000,
    w3Connections: Number(value("--w3-connections") ?? (quick ? 1_000 : 10_000)),
    w5Messages: Number(value("--w5-messages") ?? (quick ? 100_000 : 1_000_000)),
    w5Inbox: 1_000,
    baseline: flag("--baseline"),
    profile: flag("--profile"),
    loadgens: Number(value("--loadgens") ?? 2),
    systems: value("--systems")?.toLowerCase().split(",") ?? null,
    w2Rates: value("--w2-rates")?.split(",").map(Number) ?? null,
    w6Rates: value("--w6-rates")?.split(",").map(Number) ?? null,
    w6Variants: value("--w6-variants")?.toLowerCase().split(",") ?? null,
  };
}

type Start = Bench["start"];
type Log = (message: string) => void;

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const runs = (w: string) => !options.only || options.only.has(w);
  const id = randomUUID().slice(0, 8);
  const database = `chat_bench_${id}`;
  const outDir = path.join(ROOT, "bench-results");
  fs.mkdirSync(path.join(outDir, "logs"), { recursive: true });
  const log = (message: string) =>
    console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

  compile(log);
  const databaseUrl = await createDatabase(ADMIN_URL, database);
  const machine = await describeMachine(databaseUrl, REDIS_URL);
  log(`machine: ${machine.cores} cores, ${machine.cpuModel}; database ${database}`);
  const started: BenchProcess[] = [];
  const start = processStarter(outDir, started);
  // What the finally below closes, even when starting the rest failed.
  const held: { seeder?: Seeder } = {};
  try {
    const bench = await startBench(options, id, databaseUrl, outDir, start, log, held);
    if (runs("W6")) bench.results.W6 = await endToEnd(bench);
    if (runs("W1")) bench.results.W1 = await runW1(bench, id);
    if (runs("W2")) bench.results.W2 = await sendPath(bench);
    if (runs("W3")) bench.results.W3 = await connections(bench);
    if (runs("W4")) bench.results.W4 = await churn(bench);
    if (runs("W5")) bench.results.W5 = await history(bench);
    writeReport(outDir, machine, options, bench.results, log);
  } finally {
    await held.seeder?.close().catch(() => {});
    for (const p of started.reverse()) await p.stop().catch(() => {});
    await dropDatabase(ADMIN_URL, database).catch((e) => console.error(e));
    // Everything the run's processes left in the machine's Redis (presence entries of instances
    // stopped before their users were reaped, rate-limit counters) shares the run's prefix.
    await deleteKeysWithPrefix(REDIS_URL, `bench:${id}`).catch((e) => console.error(e));
  }
}

/** The processes run compiled (lib/ipc.ts), from this checkout as it is now. */
function compile(log: Log) {
  log("compiling (tsc)");
  execFileSync(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], {
    cwd: ROOT,
    stdio: "inherit",
  });
}

/** Starts bench processes, each logging to bench-results/logs/<name>.log, into `started`. */
function processStarter(outDir: string, started: BenchProcess[]): Start {
  return async (name, script, env = {}, nodeFlags = []) => {
    const p = await startProcess(name, script, {
      env: { REDIS_URL, ...env },
      nodeFlags,
      logFile: path.join(outDir, "logs", `${name}.log`),
    });
    started.push(p);
    return p;
  };
}

function serviceEnv(databaseUrl: string, prefix: string, fanoutOff: boolean) {
  return {
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    JWT_SECRET: SECRET,
    LOG_LEVEL: "warn",
    MESSAGE_RATE_LIMIT: "1000000",
    CONNECTION_RATE_LIMIT: "1000000",
    FLOOD_MAX_REPEATS: "1000000",
    MAX_CONNECTIONS_PER_USER: "1000",
    BENCH_FANOUT: fanoutOff ? "off" : "on",
  };
}

/** The service (and baseline), the seeder, the W1 peers, the load generators and the publisher. */
async function startBench(
  options: Options,
  id: string,
  databaseUrl: string,
  outDir: string,
  start: Start,
  log: Log,
  held: { seeder?: Seeder },
): Promise<Bench> {
  const servicePrefix = `bench:${id}:`;
  const service = await start("service", "service", serviceEnv(databaseUrl, servicePrefix, false), [
    "--expose-gc",
  ]);
  const baseline = options.baseline
    ? await start("baseline", "service", serviceEnv(databaseUrl, `bench:${id}b:`, true), [
        "--expose-gc",
      ])
    : null;
  const seeder = (held.seeder = await Seeder.connect(databaseUrl));
  const peerPrefix = `bench:${id}:peer:`;
  const peerEnv = { BENCH_PREFIX: peerPrefix };
  const [raw, socketio, graphql] = await Promise.all([
    start("raw-ws", "raw-ws", peerEnv, ["--expose-gc"]),
    start("socketio", "socketio", peerEnv, ["--expose-gc"]),
    start("graphql-ws", "graphql-ws", peerEnv, ["--expose-gc"]),
  ]);
  const loadgens = await Promise.all(
    Array.from({ length: options.loadgens }, (_, i) => start(`loadgen${i}`, "loadgen")),
  );
  const publisher = await start("publisher", "publisher");
  return {
    options,
    service,
    baseline,
    raw,
    socketio,
    graphql,
    loadgens,
    publisher,
    seeder,
    servicePrefix,
    peerPrefix,
    secret: SECRET,
    results: {},
    outDir,
    databaseUrl,
    redisUrl: REDIS_URL,
    startService: (name) =>
      start(name, "service", serviceEnv(databaseUrl, `bench:${id}:${name}:`, false), [
        "--expose-gc",
      ]),
    start,
    log,
  };
}

/** W1 over every shape, against the systems --systems picks (and the baseline, if running). */
async function runW1(bench: Bench, id: string): Promise<FanoutResult[]> {
  const systems = w1Systems(bench);
  if (bench.options.systems) {
    const wanted = bench.options.systems;
    systems.splice(
      0,
      systems.length,
      ...systems.filter((s) => wanted.some((w) => s.name.toLowerCase().startsWith(w))),
    );
  }
  if (bench.baseline) {
    systems.push({
      name: "service (fan-out off)",
      kind: "graphql",
      url: bench.baseline.info.url.replace(/^http/, "ws"),
      mode: "service",
      prefix: `bench:${id}b:`,
      process: bench.baseline,
    });
  }
  const w1: FanoutResult[] = [];
  for (const shape of bench.options.shapes) {
    bench.log(`W1 ${shape.join("x")}`);
    w1.push(...(await fanout(bench, systems, shape)));
  }
  return w1;
}

function w1Systems(bench: Bench): System[] {
  const { socketio, raw, graphql, service, peerPrefix, servicePrefix } = bench;
  return [
    {
      name: "Socket.IO + Redis adapter",
      kind: "socketio",
      url: socketio.info.url,
      mode: "socketio",
      prefix: peerPrefix,
      process: socketio,
    },
    {
      name: "raw ws (one frame)",
      kind: "raw",
      url: raw.info.url,
      mode: "raw",
      prefix: peerPrefix,
      process: raw,
    },
    {
      name: "plain graphql-ws",
      kind: "graphql",
      url: graphql.info.url,
      mode: "graphql",
      prefix: peerPrefix,
      process: graphql,
    },
    {
      name: "service",
      kind: "graphql",
      url: service.info.url.replace(/^http/, "ws"),
      mode: "service",
      prefix: servicePrefix,
      process: service,
    },
  ];
}

/** bench-results/bench-<time>.json (and latest.json), then the tables. */
function writeReport(
  outDir: string,
  machine: Awaited<ReturnType<typeof describeMachine>>,
  options: Options,
  results: Bench["results"],
  log: Log,
) {
  const report = {
    at: new Date().toISOString(),
    machine,
    options: { ...options, only: options.only ? [...options.only] : null },
    results,
  };
  const file = path.join(outDir, `bench-${report.at.replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(report, (_k, v) => (v instanceof Float64Array ? undefined : v), 2),
  );
  fs.copyFileSync(file, path.join(outDir, "latest.json"));
  printReport(report);
  log(`results written to ${path.relative(ROOT, file)}`);
}

void median;
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
