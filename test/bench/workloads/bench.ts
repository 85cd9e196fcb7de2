import fs from "node:fs";
import path from "node:path";
import type { BenchProcess } from "../lib/ipc";
import type { Seeder } from "../lib/db";
import { concat, settleDeliveries, sleep } from "../lib/stats";
import type { ConnectionSpec, Kind } from "../procs/loadgen";
import { mintToken } from "../../../src/modules/auth/token.service";

export interface Options {
  quick: boolean;
  only: Set<string> | null;
  runs: number;
  /** W1 events per conversation per run. */
  events: number;
  /** W1 shapes as conversations x subscribers. */
  shapes: Array<[number, number]>;
  /** W1 fixed-rate phase length. */
  rateMs: number;
  w3Connections: number;
  w5Messages: number;
  w5Inbox: number;
  baseline: boolean;
  profile: boolean;
  loadgens: number;
  systems: string[] | null;
  w2Rates: number[] | null;
  /** W6a send rates (all senders together). */
  w6Rates: number[] | null;
  /** W6 variants to run, by key prefix (service-http, service-ws, peer). */
  w6Variants: string[] | null;
}

/** A system that W1 measures: the service (optimised or not) or one of the peers. */
export interface System {
  name: string;
  kind: Kind;
  url: string;
  mode: "service" | "raw" | "socketio" | "graphql";
  prefix: string;
  process: BenchProcess;
}

export interface Bench {
  options: Options;
  service: BenchProcess;
  baseline: BenchProcess | null;
  raw: BenchProcess;
  socketio: BenchProcess;
  graphql: BenchProcess;
  loadgens: BenchProcess[];
  publisher: BenchProcess;
  seeder: Seeder;
  servicePrefix: string;
  peerPrefix: string;
  secret: string;
  results: Record<string, any>;
  outDir: string;
  databaseUrl: string;
  redisUrl: string;
  /** Another instance of the service, fresh (W3 measures memory from a clean start). */
  startService(name: string): Promise<BenchProcess>;
  /** Starts compiled procs/<script>.ts as `name` (stopped at the end of the run at the latest). */
  start(
    name: string,
    script: string,
    env?: Record<string, string>,
    nodeFlags?: string[],
  ): Promise<BenchProcess>;
  log(message: string): void;
}

export async function tokens(bench: Bench, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map((id) => mintToken(bench.secret, id, { name: id, expiresIn: "12h" })));
}

/** Opens connections spread round-robin over the load generators. */
export async function openAll(bench: Bench, kind: Kind, url: string, specs: ConnectionSpec[]) {
  const parts: ConnectionSpec[][] = bench.loadgens.map(() => []);
  specs.forEach((spec, i) => parts[i % parts.length].push(spec));
  const results = await Promise.all(
    bench.loadgens.map((lg, i) =>
      lg.call<{ ms: number }>("open", { kind, url, specs: parts[i], concurrency: 25 }),
    ),
  );
  return Math.max(...results.map((r) => r.ms));
}

export async function closeAll(bench: Bench) {
  await Promise.all(bench.loadgens.map((lg) => lg.call("closeAll")));
}

export async function resetAll(bench: Bench) {
  await Promise.all(bench.loadgens.map((lg) => lg.call("reset")));
}

export interface Received {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  errors: number;
  completes: number;
  errorSamples: string[];
  latencies: Float64Array;
}

export async function statsAll(bench: Bench): Promise<Received> {
  const all = await Promise.all(bench.loadgens.map((lg) => lg.call<Received>("stats")));
  const firsts = all.map((s) => s.firstAt).filter((t) => t > 0);
  return {
    received: all.reduce((n, s) => n + s.received, 0),
    firstAt: firsts.length ? Math.min(...firsts) : 0,
    lastAt: Math.max(...all.map((s) => s.lastAt)),
    outOfOrder: all.reduce((n, s) => n + s.outOfOrder, 0),
    errors: all.reduce((n, s) => n + s.errors, 0),
    completes: all.reduce((n, s) => n + s.completes, 0),
    errorSamples: all.flatMap((s) => s.errorSamples),
    latencies: concat(all.map((s) => s.latencies)),
  };
}

/** Waits until `expected` events arrived, or nothing new arrived for quietMs. */
export function settle(bench: Bench, expected: number, quietMs = 8_000): Promise<Received> {
  return settleDeliveries(() => statsAll(bench), expected, quietMs);
}

/** Publishes warm-up events until every subscription saw one: then all of them are live. */
export async function warmUp(bench: Bench, group?: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await bench.publisher.call("warmup");
    await sleep(250);
    const counts = await Promise.all(
      bench.loadgens.map((lg) => lg.call<{ warm: number; total: number }>("warm", { group })),
    );
    const warm = counts.reduce((n, c) => n + c.warm, 0);
    const total = counts.reduce((n, c) => n + c.total, 0);
    if (warm >= total) return;
    if (Date.now() > deadline) throw new Error(`only ${warm} of ${total} subscriptions went live`);
  }
}

export const MESSAGE_FIELDS = `id conversationId seq kind text clientMessageId createdAt
  sender { id displayName } attachments { mediaId url mimeType }`;

export const MESSAGE_ADDED = `subscription($conversationId: ID) {
  messageAdded(conversationId: $conversationId) { ${MESSAGE_FIELDS} }
}`;

export const MESSAGE_UPDATED = `subscription($conversationId: ID) {
  messageUpdated(conversationId: $conversationId) { id text editedAt deletedAt }
}`;

export const PLAIN_MESSAGE_ADDED = MESSAGE_ADDED;

/** Where a phase's CPU profile goes: bench-results/profiles/<name>.cpuprofile. */
export function profileFile(bench: Bench, name: string): string {
  const dir = path.join(bench.outDir, "profiles");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.cpuprofile`);
}
