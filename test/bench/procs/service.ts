import "reflect-metadata";
import http from "node:http";
import { randomUUID } from "node:crypto";
import { buildApp } from "../../../src/app";
import { loadConfig } from "../../../src/config";
import { now, serve, settledUsage, usage } from "../lib/ipc";
import { profilerHandlers } from "../lib/profiler";
import { redisCommands } from "../lib/redis-count";

/** A statement's shape (its start, without literals), so the same query counts as one. */
const shapeOf = (sql: string) =>
  sql
    .slice(0, 240)
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\b\d+(?:\.\d+)?\b/g, "?")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 120);

// Remembered per text, so counting costs the service a lookup per statement, as the peer's does.
const shapes = new Map<string, string>();
function shape(sql: string): string {
  let known = shapes.get(sql);
  if (known === undefined) {
    known = shapeOf(sql);
    if (shapes.size < 10_000) shapes.set(sql, known);
  }
  return known;
}

let statements = 0;
const byStatement = new Map<string, number>();
let timing: { durations: number[]; statements: number[] } | null = null;

/** Server time of each HTTP request: from the request event to the response's last byte. */
function timeRequests() {
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: http.Server, event: string, ...args: any[]) {
    if (event === "request" && timing) {
      const [, res] = args as [http.IncomingMessage, http.ServerResponse];
      const started = performance.now();
      const before = statements;
      const record = timing;
      res.once("finish", () => {
        record.durations.push(performance.now() - started);
        record.statements.push(statements - before);
      });
    }
    return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof emit;
}

type Orm = Awaited<ReturnType<typeof buildApp>>["services"]["orm"];

/** Single-row INSERTs through the service's own pool, as many at once as it allows. */
async function insertCeiling(
  orm: Orm,
  poolMax: number,
  params: { conversationId: string; senderId: string; firstSeq: number; durationMs: number },
) {
  let seq = params.firstSeq;
  let done = 0;
  const latencies: number[] = [];
  const started = now();
  const deadline = started + params.durationMs;
  const worker = async () => {
    while (now() < deadline) {
      const t0 = now();
      await orm.em.fork().execute(
        // xid 0: behind the notification relay's cursor, which would relay them otherwise.
        `insert into message (id, conversation_id, seq, sender_id, kind, text, attachments, created_at, xid)
           values (?, ?, ?, ?, 'TEXT', ?, '[]', now(), '0')`,
        [randomUUID(), params.conversationId, seq++, params.senderId, `ceiling ${seq}`],
      );
      latencies.push(now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: poolMax }, worker));
  return { inserts: done, seconds: (now() - started) / 1000, latencies, nextSeq: seq };
}

/**
 * The chat service under test, configured from the environment like src/main.ts, with what the
 * bench needs to see inside: SQL statements sent, per-request server time, CPU and memory.
 */
async function main() {
  timeRequests();
  const config = loadConfig(process.env);
  const app = await buildApp(config, {
    onQuery: (sql: string) => {
      statements++;
      const key = shape(sql);
      byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
    },
    ...(process.env.BENCH_FANOUT === "off" ? { fanout: false } : {}),
  } as Parameters<typeof buildApp>[1]);
  const url = await app.start(0);
  const orm = app.services.orm;

  serve(
    {
      /** A CPU profile of the phase between profileStart and profileStop, written to `file`. */
      ...profilerHandlers(),
      usage: settledUsage,
      statements: () => statements,
      statementsBy: () => Object.fromEntries(byStatement),
      redisCommands,
      cpu: () => usage(),
      startTiming: () => {
        timing = { durations: [], statements: [] };
      },
      stopTiming: () => {
        const result = timing;
        timing = null;
        return result;
      },
      insertCeiling: (params: Parameters<typeof insertCeiling>[2]) =>
        insertCeiling(orm, config.databasePoolMax, params),
    },
    { url, pid: process.pid },
    () => app.stop(),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
