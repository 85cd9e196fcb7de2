import path from "node:path";

/** The embedded default's signing secret. Never accepted when NODE_ENV=production. */
export const DEV_JWT_SECRET = "dev-only-secret-do-not-use-in-production-0123456789";

export interface JwtConfig {
  /** HS256 shared secret; null when JWKS is used. */
  secret: string | null;
  jwksUrl: string | null;
  issuer: string | null;
  audience: string | null;
  /** True when the embedded default's dev secret is in use. */
  devSecret: boolean;
}

export interface LimitsConfig {
  messageMaxLength: number;
  titleMaxLength: number;
  subjectMaxLength: number;
  groupMaxMembers: number;
  pageSizeDefault: number;
  pageSizeMax: number;
}

export interface Config {
  nodeEnv: string;
  production: boolean;
  host: string;
  port: number;
  /** Null means the embedded PGlite database under dataDir. */
  databaseUrl: string | null;
  databasePoolMax: number;
  /** Longest wait for a pooled connection (or a new one) before a request fails with UNAVAILABLE. */
  databaseAcquireTimeoutMs: number;
  /** statement_timeout of every session (real PostgreSQL only); 0 turns it off. */
  databaseStatementTimeoutMs: number;
  /** Null means in-process pub/sub. */
  redisUrl: string | null;
  /** Prefix of every Redis channel this service uses, so deployments can share a Redis. */
  redisPrefix: string;
  dataDir: string;
  logLevel: string;
  jwt: JwtConfig;
  limits: LimitsConfig;
  messageEditWindowMinutes: number;
  /** Schema introspection; off by default in production. */
  introspection: boolean;
  /** Serve the Federation 2 subgraph schema (`_service`, `_entities`) at /graphql. */
  federation: boolean;
  /** The GraphiQL page at GET /graphql for browsers; off by default in production. */
  playground: boolean;
  realtime: RealtimeConfig;
  safety: SafetyConfig;
  notifications: NotificationsConfig;
}

/** The relay of notification events from the message log (src/modules/notifications). */
export interface NotificationsConfig {
  /** Redis channel of message.created events; not prefixed, since consumers outside read it. */
  channel: string;
  /** How often each instance looks for unrelayed messages besides being woken by a send. */
  pollMs: number;
  /** A send wakes the relay this much later, so the events of sends close together leave in one pass. */
  batchDelayMs: number;
  batchSize: number;
  /** Ceiling of the backoff between failed relay attempts. */
  retryMaxMs: number;
}

export interface RateLimit {
  points: number;
  windowMs: number;
}

export interface SafetyConfig {
  rateLimits: {
    messages: RateLimit;
    conversations: RateLimit;
    reports: RateLimit;
    blocks: RateLimit;
    typing: RateLimit;
    connections: RateLimit;
  };
  /** Words (whole, case-insensitive), regular expressions and link domains a message may not contain. */
  denyWords: string[];
  denyPatterns: RegExp[];
  denyDomains: string[];
  /** The same text from one user more than floodMaxRepeats times within floodWindowMs is refused. */
  floodMaxRepeats: number;
  floodWindowMs: number;
  /** Asked before conversations are created or participants added; null: everyone may chat. */
  policyUrl: string | null;
  policyToken: string | null;
  policyTimeoutMs: number;
  maxQueryDepth: number;
  maxQueryCost: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  /** Representations one request may pass to `_entities` (federation), across all its fields. */
  maxEntityRepresentations: number;
  /** Bytes of an HTTP request body and of a graphql-ws message. */
  maxBodyBytes: number;
  maxWsPayloadBytes: number;
}

export interface RealtimeConfig {
  /** A typing event lasts this long unless refreshed. */
  typingTtlMs: number;
  /** At most one typing event per user and conversation per this interval. */
  typingThrottleMs: number;
  /** How often an instance renews its connections in the presence registry. */
  presenceHeartbeatMs: number;
  /** An instance that stopped renewing for this long is dead; its users go OFFLINE. */
  presenceTtlMs: number;
  /** A user whose last connection closed stays ONLINE this long, so a quick reconnect never flickers. */
  presenceGraceMs: number;
  maxConnectionsPerUser: number;
  /** Open subscriptions on one graphql-ws connection; one more is refused with BAD_USER_INPUT. */
  maxSubscriptionsPerConnection: number;
  /** WebSocket ping interval; a peer that misses a pong is dropped. */
  wsPingMs: number;
  /** A socket whose unsent data would exceed this is closed with 4008 (resume with afterSeq). */
  wsMaxBufferedBytes: number;
  /** How often live messageAdded feeds compare their position with the database and catch up. */
  streamResyncMs: number;
  /** A live message that skips ahead waits this long for the ones before it, then they are read. */
  streamGapWaitMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(" or ")}`);
  }
  return raw;
}

/** Reads and validates the environment once; the result is frozen. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const nodeEnv = str(env, "NODE_ENV") ?? "development";
  const production = nodeEnv === "production";
  const databaseUrl = url(env, "DATABASE_URL", ["postgres:", "postgresql:"]);
  const redisUrl = url(env, "REDIS_URL", ["redis:", "rediss:"]);
  const jwksUrl = url(env, "JWKS_URL", ["https:", "http:"]);
  let secret = str(env, "JWT_SECRET");

  if (production) {
    const missing = [
      databaseUrl ? null : "DATABASE_URL",
      redisUrl ? null : "REDIS_URL",
      secret || jwksUrl ? null : "JWT_SECRET or JWKS_URL",
    ].filter(Boolean);
    if (missing.length) {
      throw new ConfigError(`NODE_ENV=production requires ${missing.join(", ")}`);
    }
    if (secret === DEV_JWT_SECRET) throw new ConfigError("JWT_SECRET must not be the dev secret");
  }
  if (secret && jwksUrl) throw new ConfigError("Set JWT_SECRET or JWKS_URL, not both");
  if (secret && Buffer.byteLength(secret) < 32) {
    throw new ConfigError("JWT_SECRET must be at least 32 bytes for HS256");
  }
  const devSecret = !secret && !jwksUrl;
  if (devSecret) secret = DEV_JWT_SECRET;

  const pageSizeMax = int(env, "PAGE_SIZE_MAX", 100, 1, 1000);
  const config: Config = {
    nodeEnv,
    production,
    host: str(env, "HOST") ?? (production ? "0.0.0.0" : "localhost"),
    port: int(env, "PORT", 4000, 0, 65535),
    databaseUrl,
    // PGlite is a single session: more than one connection loses transactions (STACK.md, trap 9).
    databasePoolMax: databaseUrl ? int(env, "DATABASE_POOL_MAX", 10, 1, 200) : 1,
    databaseAcquireTimeoutMs: int(env, "DATABASE_ACQUIRE_TIMEOUT_MS", 5_000, 100, 600_000),
    databaseStatementTimeoutMs: int(env, "DATABASE_STATEMENT_TIMEOUT_MS", 30_000, 0, 3_600_000),
    redisUrl,
    redisPrefix: str(env, "REDIS_PREFIX") ?? "chat:",
    dataDir: path.resolve(str(env, "DATA_DIR") ?? ".data"),
    logLevel: str(env, "LOG_LEVEL") ?? (nodeEnv === "test" ? "silent" : "info"),
    jwt: {
      secret,
      jwksUrl,
      issuer: str(env, "JWT_ISSUER"),
      audience: str(env, "JWT_AUDIENCE"),
      devSecret,
    },
    limits: {
      messageMaxLength: int(env, "MESSAGE_MAX_LENGTH", 5000, 1, 100_000),
      titleMaxLength: 200,
      subjectMaxLength: 200,
      groupMaxMembers: int(env, "GROUP_MAX_MEMBERS", 1000, 2, 100_000),
      pageSizeDefault: Math.min(int(env, "PAGE_SIZE_DEFAULT", 50, 1, 1000), pageSizeMax),
      pageSizeMax,
    },
    messageEditWindowMinutes: int(env, "MESSAGE_EDIT_WINDOW_MINUTES", 15, 0, 60 * 24 * 365),
    introspection: bool(env, "INTROSPECTION", !production),
    federation: bool(env, "FEDERATION", false),
    playground: bool(env, "PLAYGROUND", !production),
    realtime: realtimeConfig(env),
    safety: safetyConfig(env),
    notifications: notificationsConfig(env),
  };
  return deepFreeze(config);
}

function list(env: Env, name: string): string[] {
  return (str(env, name) ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
}

function rateLimit(env: Env, name: string, points: number, windowMs: number): RateLimit {
  return {
    points: int(env, `${name}_RATE_LIMIT`, points, 1, 1_000_000),
    windowMs: int(env, `${name}_RATE_WINDOW_MS`, windowMs, 100, 86_400_000),
  };
}

function safetyConfig(env: Env): SafetyConfig {
  const rawPatterns = str(env, "CONTENT_DENY_PATTERNS");
  let denyPatterns: RegExp[] = [];
  if (rawPatterns) {
    try {
      const parsed: unknown = JSON.parse(rawPatterns);
      if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) throw new Error();
      denyPatterns = parsed.map((p: string) => new RegExp(p, "iu"));
    } catch {
      throw new ConfigError("CONTENT_DENY_PATTERNS must be a JSON array of regular expressions");
    }
  }
  return {
    rateLimits: {
      messages: rateLimit(env, "MESSAGE", 20, 60_000),
      conversations: rateLimit(env, "CONVERSATION", 10, 60_000),
      reports: rateLimit(env, "REPORT", 10, 3_600_000),
      blocks: rateLimit(env, "BLOCK", 30, 3_600_000),
      typing: rateLimit(env, "TYPING", 60, 60_000),
      connections: rateLimit(env, "CONNECTION", 30, 60_000),
    },
    denyWords: list(env, "CONTENT_DENY_WORDS"),
    denyPatterns,
    denyDomains: list(env, "CONTENT_DENY_DOMAINS"),
    floodMaxRepeats: int(env, "FLOOD_MAX_REPEATS", 3, 1, 1_000_000),
    floodWindowMs: int(env, "FLOOD_WINDOW_MS", 30_000, 100, 86_400_000),
    policyUrl: url(env, "CHAT_POLICY_URL", ["http:", "https:"]),
    policyToken: str(env, "CHAT_POLICY_TOKEN"),
    policyTimeoutMs: int(env, "CHAT_POLICY_TIMEOUT_MS", 2_000, 50, 60_000),
    maxQueryDepth: int(env, "MAX_QUERY_DEPTH", 12, 2, 100),
    maxQueryCost: int(env, "MAX_QUERY_COST", 100_000, 10, 10_000_000),
    maxAliases: int(env, "MAX_ALIASES", 15, 1, 1000),
    maxDirectives: int(env, "MAX_DIRECTIVES", 50, 1, 1000),
    maxTokens: int(env, "MAX_TOKENS", 5_000, 100, 1_000_000),
    maxEntityRepresentations: int(env, "MAX_ENTITY_REPRESENTATIONS", 100, 1, 10_000),
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 1_048_576, 1024, 100 * 1_048_576),
    maxWsPayloadBytes: int(env, "MAX_WS_PAYLOAD_BYTES", 65_536, 1024, 16 * 1_048_576),
  };
}

function notificationsConfig(env: Env): NotificationsConfig {
  const channel = str(env, "NOTIFICATIONS_CHANNEL") ?? "events:message.created";
  if (!/^[\x21-\x7e]{1,200}$/.test(channel)) {
    throw new ConfigError("NOTIFICATIONS_CHANNEL must be 1 to 200 printable characters");
  }
  return {
    channel,
    pollMs: int(env, "NOTIFICATIONS_POLL_MS", 1_000, 10, 600_000),
    batchDelayMs: int(env, "NOTIFICATIONS_BATCH_DELAY_MS", 100, 0, 10_000),
    batchSize: int(env, "NOTIFICATIONS_BATCH_SIZE", 100, 1, 10_000),
    retryMaxMs: int(env, "NOTIFICATIONS_RETRY_MAX_MS", 30_000, 10, 3_600_000),
  };
}

function realtimeConfig(env: Env): RealtimeConfig {
  const presenceHeartbeatMs = int(env, "PRESENCE_HEARTBEAT_MS", 5_000, 50, 60_000);
  const presenceTtlMs = int(env, "PRESENCE_TTL_MS", 15_000, 100, 120_000);
  if (presenceTtlMs < presenceHeartbeatMs * 2) {
    throw new ConfigError("PRESENCE_TTL_MS must be at least twice PRESENCE_HEARTBEAT_MS");
  }
  return {
    typingTtlMs: int(env, "TYPING_TTL_MS", 5_000, 100, 60_000),
    typingThrottleMs: int(env, "TYPING_THROTTLE_MS", 1_000, 0, 60_000),
    presenceHeartbeatMs,
    presenceTtlMs,
    presenceGraceMs: int(env, "PRESENCE_GRACE_MS", 3_000, 0, 60_000),
    maxConnectionsPerUser: int(env, "MAX_CONNECTIONS_PER_USER", 5, 1, 1000),
    maxSubscriptionsPerConnection: int(env, "MAX_SUBSCRIPTIONS_PER_CONNECTION", 100, 1, 10_000),
    wsPingMs: int(env, "WS_PING_MS", 30_000, 100, 600_000),
    wsMaxBufferedBytes: int(env, "WS_MAX_BUFFERED_BYTES", 4_194_304, 16_384, 1_073_741_824),
    streamResyncMs: int(env, "STREAM_RESYNC_MS", 5_000, 50, 600_000),
    streamGapWaitMs: int(env, "STREAM_GAP_WAIT_MS", 250, 0, 10_000),
  };
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
