import pino, { type Logger } from "pino";

export type { Logger };

/** JSON logs; tokens and message bodies are redacted wherever they appear by name. */
export function createLogger(level: string): Logger {
  return pino({
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
  });
}
