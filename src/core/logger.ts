import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs on stdout (or `destination`, where tests capture them); tokens and message bodies are
 * redacted wherever they appear by name.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "chat" },
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
