import pino, { type DestinationStream, type Logger } from "pino";
import { DriverException } from "@mikro-orm/core";

export type { Logger };

/**
 * JSON logs on stdout (or `destination`, where tests capture them); tokens and message bodies are
 * redacted wherever they appear by name, and errors pass through `serializeError`, which keeps SQL
 * and its parameters out.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "chat" },
      serializers: { err: serializeError },
      redact: {
        paths: [
          "req.headers.authorization",
          "authorization",
          "token",
          "*.authorization",
          "*.token",
          "text",
          "*.text",
          "variables",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

/**
 * Error properties that carry SQL, bind parameters, row values (PostgreSQL's `detail`: "Key
 * (id)=(…) already exists") or a Redis command's arguments (an ioredis error's `command.args`, e.g.
 * a published payload with message text).
 */
const LEAKY_KEYS = new Set([
  "sql",
  "bindings",
  "params",
  "parameters",
  "query",
  "detail",
  "where",
  "hint",
  "internalQuery",
  "internalPosition",
  "position",
  "command",
]);
/** All a database error keeps: what failed and where, never with what. */
const DATABASE_KEYS = [
  "name",
  "code",
  "errno",
  "severity",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "routine",
];
/** PostgreSQL's message text without a quoted value in it ("canceling statement due to …"). */
const SAFE_TEXT = /^[A-Za-z][\w ,.:;()/?-]{0,199}$/;

/**
 * pino's error serializer for every `err` this service logs. A MikroORM driver error's message is
 * the statement with its parameters inlined (search words, message text, ids), and PostgreSQL's own
 * part often quotes a value; such an error keeps its class, SQLSTATE code, constraint, table and
 * column and PostgreSQL's text only when it quotes nothing. Wrappers that repeat its message
 * (Apollo's "Context creation failed: …") get the same cut; other errors lose LEAKY_KEYS.
 */
export function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return pino.stdSerializers.err(value as Error);
  const cuts: Array<[string, string]> = [];
  return pino.stdSerializers.err(scrub(value, cuts, new Set(), 0));
}

function isDatabaseError(error: Error): boolean {
  if (error instanceof DriverException) return true;
  // pg's DatabaseError, when it reaches a log without MikroORM wrapping it (knex.raw).
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof severity === "string";
}

/** What a database error's message becomes in the log. */
function databaseSummary(error: Error): string {
  const code = (error as { code?: unknown }).code;
  // MikroORM appends "\n - detail: …" and "\n - hint: …"; knex prefixes "<sql> - ".
  const own = error.message.split(/\n - (?:detail|hint): /)[0];
  const text = own
    .slice(own.lastIndexOf(" - ") + 1)
    .replace(/^- /, "")
    .trim();
  return [
    SAFE_TEXT.test(text) ? text : "database error",
    typeof code === "string" || typeof code === "number" ? `(code ${code})` : null,
    "[SQL, parameters and values omitted]",
  ]
    .filter(Boolean)
    .join(" ");
}

function cutAll(text: string, cuts: Array<[string, string]>): string {
  let result = text;
  for (const [raw, summary] of cuts) if (raw) result = result.split(raw).join(summary);
  return result;
}

/** A copy of `error` (the original stays as it is, for whoever still handles it) fit to log. */
function scrub(
  error: Error,
  cuts: Array<[string, string]>,
  seen: Set<Error>,
  depth: number,
): Error {
  seen.add(error);
  const copy = Object.create(Object.getPrototypeOf(error)) as Error;
  const hidden = (key: string, value: unknown) =>
    Object.defineProperty(copy, key, { value, enumerable: false, writable: true });
  const nested = (value: unknown): unknown =>
    value instanceof Error
      ? seen.has(value) || depth >= 5
        ? undefined
        : scrub(value, cuts, seen, depth + 1)
      : value;

  // Causes first: a wrapper's message may repeat theirs, which is then cut out of it as well.
  const { cause, originalError, errors } = error as {
    cause?: unknown;
    originalError?: unknown;
    errors?: unknown;
  };
  if (cause !== undefined) hidden("cause", nested(cause));
  if (originalError !== undefined) hidden("originalError", nested(originalError));
  if (Array.isArray(errors)) hidden("errors", errors.map(nested));

  if (isDatabaseError(error)) {
    const summary = databaseSummary(error);
    cuts.push([error.message, summary]);
    for (const key of DATABASE_KEYS) {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (Object.hasOwn(error, key) && (typeof value === "string" || typeof value === "number")) {
        copy[key as "name"] = value as string;
      }
    }
    hidden("message", summary);
    const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
    hidden("stack", [`${error.name}: ${summary}`, ...frames].join("\n"));
    return copy;
  }

  for (const [key, value] of Object.entries(error)) {
    if (["cause", "originalError", "errors", "message", "stack"].includes(key)) continue;
    if (key === "command" && value && typeof value === "object") {
      copy[key as "name"] = { name: (value as { name?: unknown }).name } as never;
    } else if (!LEAKY_KEYS.has(key)) {
      copy[key as "name"] = nested(value) as string;
    }
  }
  hidden("message", cutAll(error.message, cuts));
  hidden("stack", error.stack === undefined ? undefined : cutAll(error.stack, cuts));
  if (Object.hasOwn(error, "name")) hidden("name", error.name);
  return copy;
}
