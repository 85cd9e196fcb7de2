import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Router } from "express";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Metrics } from "./metrics";
import type { PubSub } from "./pubsub";
import type { Logger } from "./logger";

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const CHECK_TIMEOUT_MS = 2_000;
/** Probes and scrapes arrive every few seconds; they are logged at debug level only. */
const QUIET_PATHS = new Set(["/health", "/ready", "/metrics"]);

const requestScope = new AsyncLocalStorage<string>();

/** The id of the HTTP request being handled, wherever in its async chain this is called. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore();
}

/** A request URL's path, without its query string. */
export function pathOf(url = ""): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** What the request log says of a request beyond its method and path. */
interface RequestNotes {
  requestId: string;
  userId?: string;
  operationName?: string;
}

const notes = new WeakMap<ServerResponse, RequestNotes>();

/** The request id of an HTTP request: set by requestLogger before any route runs. */
export function requestIdOf(res: ServerResponse): string {
  return notes.get(res)?.requestId ?? randomUUID();
}

/** Adds the authenticated user or the GraphQL body's operation name to the request's log line. */
export function noteRequest(res: ServerResponse, note: { userId?: string; body?: unknown }): void {
  const entry = notes.get(res);
  if (!entry) return;
  if (note.userId) entry.userId = note.userId;
  const name = (note.body as { operationName?: unknown } | undefined)?.operationName;
  if (typeof name === "string") entry.operationName = name.slice(0, 100);
}

/**
 * One JSON line per HTTP request: id (the caller's x-request-id when well-formed, echoed back),
 * method, path without the query string, status, duration and operation name. Never headers,
 * query strings or bodies, which carry tokens and message text. `next` runs in the request's
 * scope (currentRequestId).
 */
export function requestLogger(
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const header = req.headers["x-request-id"];
    const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
    const entry: RequestNotes = { requestId };
    notes.set(res, entry);
    res.setHeader("x-request-id", requestId);
    const started = process.hrtime.bigint();
    const path = pathOf(req.url);
    res.once("close", () => {
      const level = QUIET_PATHS.has(path) ? "debug" : "info";
      logger[level](
        {
          requestId,
          method: req.method,
          path,
          status: res.writableFinished ? res.statusCode : 499,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          operationName: entry.operationName,
          userId: entry.userId,
        },
        "request",
      );
    });
    requestScope.run(requestId, next);
  };
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, "ok" | "unavailable">;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** PostgreSQL answers `select 1`, and Redis (when configured) answers PING. */
/** What the operations routes look at. */
export interface Operated {
  orm: MikroORM;
  pubsub: PubSub;
  logger: Logger;
  metrics: Metrics;
}

export async function readiness(services: Operated): Promise<Readiness> {
  const probes: Record<string, () => Promise<unknown>> = {
    postgres: () => services.orm.em.getConnection().execute("select 1"),
  };
  const redis = services.pubsub.redis;
  if (redis) probes.redis = () => redis.ping();
  const checks: Readiness["checks"] = {};
  await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => {
      try {
        await withTimeout(probe(), CHECK_TIMEOUT_MS);
        checks[name] = "ok";
      } catch (error) {
        services.logger.warn({ err: error, dependency: name }, "readiness check failed");
        checks[name] = "unavailable";
      }
    }),
  );
  return { ready: Object.values(checks).every((c) => c === "ok"), checks };
}

/** GET /ready and GET /metrics; `drain()` turns /ready to 503 once the instance is stopping. */
export function operationsRoutes(services: Operated) {
  let draining = false;
  const router = Router();
  router.get("/ready", async (_req, res) => {
    if (draining) {
      res.status(503).json({ status: "draining", checks: {} });
      return;
    }
    const { ready, checks } = await readiness(services);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks });
  });
  router.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", services.metrics.registry.contentType);
    res.end(await services.metrics.render());
  });
  return {
    router,
    drain() {
      draining = true;
    },
  };
}
