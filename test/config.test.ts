import path from "node:path";
import { ConfigError, DEV_JWT_SECRET, loadConfig } from "../src/config";

const SECRET = "a-production-secret-of-at-least-32-bytes!";
const PRODUCTION = {
  NODE_ENV: "production",
  DATABASE_URL: "postgres://chat@db.internal:5432/chat",
  REDIS_URL: "redis://redis.internal:6379",
  JWT_SECRET: SECRET,
};

/** The ConfigError loadConfig throws for env; fails when it throws anything else or nothing. */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  describe("in production", () => {
    it("should start with a database, Redis and a JWT secret or JWKS URL", () => {
      const config = loadConfig(PRODUCTION);
      expect(config).toMatchObject({
        production: true,
        host: "0.0.0.0",
        databaseUrl: PRODUCTION.DATABASE_URL,
        redisUrl: PRODUCTION.REDIS_URL,
        introspection: false,
        jwt: { secret: SECRET, jwksUrl: null, devSecret: false },
      });
      const { JWT_SECRET: _secret, ...withoutSecret } = PRODUCTION;
      const jwks = loadConfig({ ...withoutSecret, JWKS_URL: "https://id.example.com/jwks.json" });
      expect(jwks.jwt).toMatchObject({
        secret: null,
        jwksUrl: "https://id.example.com/jwks.json",
        devSecret: false,
      });
    });

    it("should refuse to start without DATABASE_URL, REDIS_URL or JWT_SECRET/JWKS_URL, naming each", () => {
      expect(refusal({ NODE_ENV: "production" })).toBe(
        "NODE_ENV=production requires DATABASE_URL, REDIS_URL, JWT_SECRET or JWKS_URL",
      );
      for (const [name, mentioned] of [
        ["DATABASE_URL", "DATABASE_URL"],
        ["REDIS_URL", "REDIS_URL"],
        ["JWT_SECRET", "JWT_SECRET or JWKS_URL"],
      ] as const) {
        const env: Record<string, string> = { ...PRODUCTION };
        delete env[name];
        const message = refusal(env);
        expect(message).toBe(`NODE_ENV=production requires ${mentioned}`);
      }
      // Blank is missing too.
      expect(refusal({ ...PRODUCTION, REDIS_URL: "  " })).toContain("REDIS_URL");
    });

    it("should refuse the embedded default's dev secret", () => {
      expect(refusal({ ...PRODUCTION, JWT_SECRET: DEV_JWT_SECRET })).toMatch(/dev secret/);
    });
  });

  describe("in development", () => {
    it("should default to the embedded database, in-process pub/sub and the dev secret", () => {
      const config = loadConfig({});
      expect(config).toMatchObject({
        nodeEnv: "development",
        production: false,
        host: "localhost",
        port: 4000,
        databaseUrl: null,
        databasePoolMax: 1,
        redisUrl: null,
        redisPrefix: "chat:",
        dataDir: path.resolve(".data"),
        logLevel: "info",
        introspection: true,
        messageEditWindowMinutes: 15,
        jwt: {
          secret: DEV_JWT_SECRET,
          jwksUrl: null,
          issuer: null,
          audience: null,
          devSecret: true,
        },
        limits: {
          messageMaxLength: 5000,
          titleMaxLength: 200,
          subjectMaxLength: 200,
          groupMaxMembers: 1000,
          pageSizeDefault: 50,
          pageSizeMax: 100,
        },
      });
    });

    it("should use a JWT secret when one is given, and not call it the dev secret", () => {
      expect(loadConfig({ JWT_SECRET: SECRET }).jwt).toMatchObject({
        secret: SECRET,
        devSecret: false,
      });
    });

    it("should keep a real database's pool size, and one connection for the embedded one", () => {
      expect(loadConfig({ DATABASE_POOL_MAX: "7" }).databasePoolMax).toBe(1);
      expect(
        loadConfig({ DATABASE_URL: PRODUCTION.DATABASE_URL, DATABASE_POOL_MAX: "7" })
          .databasePoolMax,
      ).toBe(7);
    });
  });

  it("should read only the environment it is given", () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = PRODUCTION.DATABASE_URL;
    try {
      expect(loadConfig({}).databaseUrl).toBeNull();
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  it("should freeze the result, nested objects included", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(() => {
      (config.limits as { pageSizeMax: number }).pageSizeMax = 5;
    }).toThrow(TypeError);
  });

  it("should refuse integers that are not integers or out of range, naming the variable", () => {
    for (const [name, value] of [
      ["PORT", "abc"],
      ["PORT", "70000"],
      ["PORT", "-1"],
      ["PORT", "80.5"],
      ["DATABASE_POOL_MAX", "0"],
      ["PAGE_SIZE_MAX", "1e3x"],
      ["MESSAGE_MAX_LENGTH", "0"],
      ["MESSAGE_EDIT_WINDOW_MINUTES", "ten"],
    ]) {
      const message = refusal({ DATABASE_URL: PRODUCTION.DATABASE_URL, [name]: value });
      expect(message).toMatch(new RegExp(`^${name} must be an integer between -?\\d+ and \\d+`));
      expect(message).toContain(`got "${value}"`);
    }
    expect(loadConfig({ PORT: " 8080 " }).port).toBe(8080);
  });

  it("should refuse a JWT_SECRET shorter than 32 bytes", () => {
    expect(refusal({ JWT_SECRET: "too-short" })).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(refusal({ ...PRODUCTION, JWT_SECRET: "x".repeat(31) })).toMatch(/at least 32 bytes/);
    expect(loadConfig({ JWT_SECRET: "x".repeat(32) }).jwt.secret).toBe("x".repeat(32));
  });

  it("should refuse JWT_SECRET together with JWKS_URL", () => {
    expect(refusal({ JWT_SECRET: SECRET, JWKS_URL: "https://id.example.com/jwks.json" })).toMatch(
      /not both/,
    );
  });

  it("should refuse URLs that are malformed or of the wrong kind", () => {
    expect(refusal({ DATABASE_URL: "not a url" })).toMatch(/DATABASE_URL is not a valid URL/);
    expect(refusal({ DATABASE_URL: "mysql://db/chat" })).toMatch(/DATABASE_URL must use postgres/);
    expect(refusal({ REDIS_URL: "http://redis:6379" })).toMatch(/REDIS_URL must use redis/);
    expect(refusal({ JWKS_URL: "ftp://id.example.com/jwks" })).toMatch(/JWKS_URL must use/);
  });

  it("should refuse a boolean that is not one", () => {
    expect(refusal({ INTROSPECTION: "maybe" })).toMatch(/INTROSPECTION must be true or false/);
    expect(loadConfig({ ...PRODUCTION, INTROSPECTION: "on" }).introspection).toBe(true);
  });
});

describe("configuration docs", () => {
  /** Every variable loadConfig reads, recorded through a proxy over an empty environment. */
  function variablesRead(): string[] {
    const read = new Set<string>();
    const env = new Proxy({} as Record<string, string | undefined>, {
      get: (_target, key) => {
        if (typeof key === "string" && /^[A-Z][A-Z0-9_]+$/.test(key)) read.add(key);
        return undefined;
      },
    });
    loadConfig(env);
    return [...read].sort();
  }

  it("should list every variable the service reads in .env.example and the README", () => {
    const root = path.join(__dirname, "..");
    const fs = jest.requireActual<typeof import("node:fs")>("node:fs");
    const example = fs.readFileSync(path.join(root, ".env.example"), "utf8");
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const variables = variablesRead();
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((name) => !new RegExp(`^# ${name}=`, "m").test(example))).toEqual([]);
    expect(variables.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
