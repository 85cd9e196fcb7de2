import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Client } from "pg";
import ts from "typescript";
import { freePort, RedisServer } from "../../helpers/redis-server";

export const ROOT = path.join(__dirname, "..", "..", "..");

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until check resolves true, within timeoutMs. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function exitedPromise(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Sends signal, then SIGKILL if the process is still there after graceMs. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs: number) {
  const exited = exitedPromise(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Children still running when this process exits are killed with it (a crashed test leaves none). */
const orphans = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of orphans) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  orphans.add(child);
  child.once("exit", () => orphans.delete(child));
  return child;
}

/** initdb and postgres refuse to run as root: then the cluster belongs to the postgres user. */
function postgresOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const entry = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((line) => line.startsWith("postgres:"));
  if (!entry)
    throw new Error("Running as root: a postgres user must exist to own the test cluster");
  const [, , uid, gid] = entry.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function postgresBinDir(): string {
  const candidates: string[] = [];
  if (process.env.CHAOS_PG_BIN) candidates.push(process.env.CHAOS_PG_BIN);
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { stdio: "pipe" }).toString().trim());
  } catch {
    // no pg_config on PATH
  }
  const base = "/usr/lib/postgresql";
  if (fs.existsSync(base)) {
    const versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(base, v, "bin")));
  }
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, "initdb")));
  if (!found) throw new Error("PostgreSQL binaries (initdb, postgres) not found; set CHAOS_PG_BIN");
  return found;
}

function run(command: string, args: string[], owner: { uid: number; gid: number } | null) {
  return new Promise<void>((resolve, reject) => {
    let output = "";
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", LANG: "C", LC_ALL: "C" },
      ...(owner ?? {}),
    });
    child.stdout.on("data", (chunk) => (output += String(chunk)));
    child.stderr.on("data", (chunk) => (output += String(chunk)));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${output}`)),
    );
  });
}

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A PostgreSQL cluster of the test's own (initdb in a temp dir, a spare port), restartable. */
export class PostgresCluster {
  private process: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly owner: { uid: number; gid: number } | null,
  ) {}

  static async create(database = "chaos"): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    const owner = postgresOwner();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chaos-pg-"));
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);
    await run(
      path.join(bin, "initdb"),
      ["-D", path.join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"].concat([
        "--locale=C",
        "--no-sync",
      ]),
      owner,
    );
    const cluster = new PostgresCluster(dir, await freePort(), bin, owner);
    await cluster.start();
    const admin = new Client({ connectionString: cluster.url("postgres") });
    await admin.connect();
    await admin.query(`create database "${database}"`);
    await admin.end();
    return cluster;
  }

  get running(): boolean {
    return this.process !== null;
  }

  url(database = "chaos"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    if (this.process) return;
    const log = fs.openSync(path.join(this.dir, "postgres.log"), "a");
    if (this.owner) fs.fchownSync(log, this.owner.uid, this.owner.gid);
    const settings = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: this.dir,
      max_connections: "200",
      // Only an OS crash loses data without these; a killed postgres loses nothing it acknowledged.
      // (synchronous_commit stays on: with it off, an immediate shutdown loses acknowledged commits.)
      fsync: "off",
      full_page_writes: "off",
    };
    const args = ["-D", path.join(this.dir, "data"), "-p", String(this.port)];
    for (const [key, value] of Object.entries(settings)) args.push("-c", `${key}=${value}`);
    this.process = track(
      spawn(path.join(this.bin, "postgres"), args, {
        stdio: ["ignore", log, log],
        env: { PATH: process.env.PATH ?? "", LANG: "C", LC_ALL: "C" },
        ...(this.owner ?? {}),
      }),
    );
    fs.closeSync(log);
    const child = this.process;
    await waitFor(
      "PostgreSQL to accept connections",
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited: ${this.logTail()}`);
        return canConnect(this.url("postgres"));
      },
      30_000,
    );
  }

  /** fast: sessions are terminated and the cluster shuts down cleanly; immediate: like a crash. */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    await terminate(child, mode === "fast" ? "SIGINT" : "SIGQUIT", 20_000);
  }

  logTail(lines = 20): string {
    try {
      return fs
        .readFileSync(path.join(this.dir, "postgres.log"), "utf8")
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "";
    }
  }

  async destroy(): Promise<void> {
    await this.stop("immediate");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The helpers' redis-server, in a folder of its own and killed if this process exits first. */
export function startRedis(): Promise<RedisServer> {
  return RedisServer.start({ dirPrefix: "chaos-redis-", onSpawn: track });
}

/**
 * Transpiles src/ once into a scratch folder (node_modules/.cache, so packages resolve), file by
 * file as ts-node's transpile-only mode would: instances then start in about a second, not ten.
 * CHAOS_SRC=<folder holding a src/> builds another copy instead (to check that the harness
 * catches a fix taken out).
 */
export function buildService(): { dir: string; main: string; remove(): void } {
  const sourceRoot = process.env.CHAOS_SRC ? path.resolve(process.env.CHAOS_SRC) : ROOT;
  const dir = path.join(
    ROOT,
    "node_modules",
    ".cache",
    `chaos-build-${process.pid}-${randomBytes(3).toString("hex")}`,
  );
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, "tsconfig.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (!parsed) throw new Error("tsconfig.json could not be read");
  const compilerOptions = {
    ...parsed.options,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
    noEmit: false,
  };
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith(".ts") && !file.endsWith(".d.ts")) {
        const output = ts.transpileModule(fs.readFileSync(file, "utf8"), {
          compilerOptions,
          fileName: file,
        }).outputText;
        const target = path.join(dir, path.relative(sourceRoot, file)).replace(/\.ts$/, ".js");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, output);
      }
    }
  };
  walk(path.join(sourceRoot, "src"));
  return {
    dir,
    main: path.join(dir, "src", "main.js"),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** One service instance: the real server (src/main.ts, built) as a child process. */
export class ServiceInstance {
  /** The last lines it printed, for diagnosis. */
  readonly tail: string[] = [];
  /** How often each warn/error log message appeared. */
  readonly messages = new Map<string, number>();
  /** The error logged for each of the last few hundred failed requests, by request id. */
  readonly requestErrors = new Map<string, string>();
  url = "";
  wsUrl = "";
  killedByTest = false;
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    this.exited = exitedPromise(process);
  }

  static async start(main: string, env: Record<string, string>, name: string) {
    const child = track(
      spawn(process.execPath, [main], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    const instance = new ServiceInstance(name, child);
    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 60_000);
      void instance.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${name} exited during start: ${instance.tail.slice(-10).join("\n")}`));
      });
      const onLine = (line: string) => {
        instance.remember(line);
        if (!line.startsWith("{")) return;
        try {
          const entry = JSON.parse(line) as {
            msg?: string;
            level?: number;
            url?: string;
            err?: { type?: string; message?: string; code?: string };
            requestId?: string;
          };
          if ((entry.level ?? 0) >= 40 && entry.msg) {
            // Errors are told apart by their cause (the driver's text after the SQL); warnings by message.
            const err = entry.err;
            const cause = err?.message?.split("\n")[0].split(" - ").pop()?.slice(0, 80);
            const key =
              (entry.level ?? 0) >= 50 && err
                ? `${entry.msg} (${err.type}${err.code ? ` ${err.code}` : ""}: ${cause})`
                : entry.msg;
            instance.messages.set(key, (instance.messages.get(key) ?? 0) + 1);
            if (entry.requestId && (entry.level ?? 0) >= 50) {
              instance.requestErrors.set(entry.requestId, key);
              if (instance.requestErrors.size > 500) {
                instance.requestErrors.delete(instance.requestErrors.keys().next().value!);
              }
            }
          }
          if (entry.msg === "listening" && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // not JSON: kept in the tail
        }
      };
      readline.createInterface({ input: child.stdout! }).on("line", onLine);
      readline.createInterface({ input: child.stderr! }).on("line", onLine);
    });
    try {
      instance.url = await listening;
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    instance.wsUrl = instance.url.replace(/^http/, "ws");
    return instance;
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Resident memory in bytes, from /proc (Linux). */
  rssBytes(): number | null {
    try {
      const status = fs.readFileSync(`/proc/${this.process.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+)/.exec(status);
      return kb ? Number(kb[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  kill(): void {
    this.killedByTest = true;
    this.process.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.killedByTest = true;
    if (this.alive) await terminate(this.process, "SIGTERM", 15_000);
  }

  private remember(line: string) {
    this.tail.push(line.length > 2_000 ? `${line.slice(0, 2_000)}…` : line);
    if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
  }
}
