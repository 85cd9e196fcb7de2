import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import ts from "typescript";
import { RedisServer } from "../../helpers/redis-server";

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
export async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs: number) {
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

export function track(child: ChildProcess): ChildProcess {
  orphans.add(child);
  child.once("exit", () => orphans.delete(child));
  return child;
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
