import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";

/** Every code a client can observe in `extensions.code`. */
export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  RATE_LIMITED: "RATE_LIMITED",
  BLOCKED: "BLOCKED",
  EDIT_WINDOW_EXPIRED: "EDIT_WINDOW_EXPIRED",
  CONFLICT: "CONFLICT",
  CONTENT_REJECTED: "CONTENT_REJECTED",
  /** PostgreSQL or Redis did not answer; retry (sendMessage with the same clientMessageId). */
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes produced by Apollo Server and graphql-js for malformed requests; safe to pass through. */
const PROTOCOL_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);
const CLIENT_CODES = new Set<string>(Object.values(ErrorCode));

export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extensions } });
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = "A valid access token is required") {
    super(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = "Not allowed") {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what = "Resource") {
    super(ErrorCode.NOT_FOUND, `${what} not found`);
  }
}

export class BadUserInputError extends AppError {
  constructor(field: string, message: string) {
    super(ErrorCode.BAD_USER_INPUT, message, { field });
  }
}

export class EditWindowExpiredError extends AppError {
  constructor(minutes: number) {
    super(ErrorCode.EDIT_WINDOW_EXPIRED, `Messages can be edited for ${minutes} minutes`);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterMs: number, what = "requests") {
    super(
      ErrorCode.RATE_LIMITED,
      `Too many ${what}; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
      {
        retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)),
      },
    );
  }
}

export class BlockedError extends AppError {
  constructor(message = "A block between these users prevents this") {
    super(ErrorCode.BLOCKED, message);
  }
}

/** A message refused by the content rules; `rule` says which kind (word, pattern, domain). */
export class ContentRejectedError extends AppError {
  constructor(field: string, rule: string) {
    super(ErrorCode.CONTENT_REJECTED, "This content is not allowed", { field, rule });
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(ErrorCode.CONFLICT, message);
  }
}

/** A dependency (PostgreSQL, Redis) did not answer in time. Retrying later is safe. */
export class UnavailableError extends AppError {
  constructor(what = "A dependency") {
    super(ErrorCode.UNAVAILABLE, `${what} is unavailable; retry shortly`, { retryable: true });
  }
}

/** SQLSTATE classes of a database that is down, restarting, overloaded or timing out. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|57014)/;
const UNAVAILABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);
const UNAVAILABLE_NAMES = new Set([
  "KnexTimeoutError",
  "ConnectionException",
  "MaxRetriesPerRequestError",
]);
// "Transaction query already complete": knex's answer to the rollback MikroORM attempts after the
// connection under a transaction died (PostgreSQL restarted mid-request); it hides the original error.
const UNAVAILABLE_MESSAGE =
  /Connection terminated|Connection is closed|Stream isn't writeable|not queryable|timeout exceeded when trying to connect|Timeout acquiring a connection|Transaction query already complete/;

/** True when an error (or its cause) says PostgreSQL or Redis is unreachable, not that a request was wrong. */
export function isUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof UnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))
    ) {
      return true;
    }
    if (UNAVAILABLE_NAMES.has(e.name) || UNAVAILABLE_MESSAGE.test(e.message)) return true;
    // Apollo wraps what a context function throws ("Context creation failed") in originalError.
    e = e.cause ?? (e as GraphQLError).originalError;
  }
  return false;
}

/**
 * Passes deliberate client errors through and masks everything else; `report` receives the original
 * error, and whether it is an outage of PostgreSQL or Redis, so it can be logged with the request
 * id, while the client sees only UNAVAILABLE or INTERNAL_SERVER_ERROR.
 */
export function maskError(
  formatted: GraphQLFormattedError,
  error: unknown,
  report: (error: unknown, unavailable: boolean) => void,
): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === "string" && (CLIENT_CODES.has(code) || PROTOCOL_CODES.has(code))) {
    if (code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
  }
  const original = unwrapResolverError(error);
  const unavailable = isUnavailable(original);
  report(original, unavailable);
  if (unavailable) {
    return {
      message: "Service temporarily unavailable; retry shortly",
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.UNAVAILABLE, retryable: true },
    };
  }
  return {
    message: "Internal server error",
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
