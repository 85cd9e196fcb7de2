import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { freePort } from "../../helpers/redis-server";
import { terminate, track, waitFor } from "./infra";

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
