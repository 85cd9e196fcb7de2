import type { GraphQLError, GraphQLFormattedError } from "graphql";
import type { AppServices } from "../context";
import { maskError } from "../core/errors";
import type { Logger } from "../core/logger";
import { hideSuggestions } from "../core/suggestions";

/** The last step of every error answer, over HTTP and WebSocket alike. */
export interface ErrorFormat {
  /** Masks what a client did not cause, counts it, and hides field suggestions in production. */
  format(
    formatted: GraphQLFormattedError,
    error: unknown,
    requestId: string,
  ): GraphQLFormattedError;
  /** `format` for each of a result's errors. */
  maskAll(errors: readonly GraphQLError[], requestId: string): GraphQLFormattedError[];
}

/**
 * How a masked error is logged. An outage of PostgreSQL or Redis is expected to happen and is
 * reported by /ready: a warning per failed request, not an "unexpected error".
 */
export const report =
  (logger: Logger, requestId: string) => (error: unknown, unavailable: boolean) =>
    unavailable
      ? logger.warn({ err: error, requestId }, "dependency unavailable")
      : logger.error({ err: error, requestId }, "unexpected error");

export function errorFormat(
  services: Pick<AppServices, "config" | "logger" | "metrics">,
): ErrorFormat {
  const { config, logger } = services;
  const format = (formatted: GraphQLFormattedError, error: unknown, requestId: string) => {
    const masked = services.metrics.countError(
      maskError(formatted, error, report(logger, requestId)),
    );
    return config.production ? { ...masked, message: hideSuggestions(masked.message) } : masked;
  };
  return {
    format,
    maskAll: (errors, requestId) => errors.map((e) => format(e.toJSON(), e, requestId)),
  };
}
