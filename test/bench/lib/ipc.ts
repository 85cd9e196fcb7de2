import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** A bench process: compiled JavaScript, driven by request/response messages over IPC. */
export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  /** What the process reported once ready (ports, urls). */
  readonly info: Record<string, any>;
  call<T = any>(command: string, params?: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

interface Reply {
  id?: number;
  ready?: Record<string, any>;
  result?: unknown;
  error?: string;
}

const ROOT = path.join(__dirname, "..", "..", "..");
/**
 * The processes run as `npm run build` compiled them (dist/test/bench/procs), as the service runs
 * in production: under ts-node every process would also load node's `domain` module (ts-node
 * requires it), which wraps every event and callback and slows all of them down.
 */
const PROCS = path.join(ROOT, "dist", "test", "bench", "procs");

export interface StartOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  timeoutMs?: number;
  /** Where the process's stdout and stderr go; the console when absent. */
  logFile?: string;
}

/** Forks the compiled test/bench/procs/<script>.ts and waits for its `ready` message. */
export async function startProcess(
  name: string,
  script: string,
  options: StartOptions = {},
): Promise<BenchProcess> {
  const child: ChildProcess = fork(path.join(PROCS, `${script}.js`), options.args ?? [], {
    execArgv: options.nodeFlags ?? [],
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced",
  });
  const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: "a" }) : null;
  child.stdout!.pipe(log ?? process.stdout, { end: false });
  child.stderr!.pipe(log ?? process.stderr, { end: false });
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const info = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start`)),
      options.timeoutMs ?? 120_000,
    );
    void exited.then((code) => reject(new Error(`${name} exited with ${code} before ready`)));
    child.on("message", (message: Reply) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve(message.ready);
        return;
      }
      const waiter = message.id !== undefined ? pending.get(message.id) : undefined;
      if (!waiter) return;
      pending.delete(message.id!);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
  });
  void exited.then((code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited with ${code}`));
    pending.clear();
  });
  return {
    name,
    pid: child.pid!,
    info,
    call(command, params, timeoutMs = 600_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${command} timed out`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, command, params });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ command: "exit" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export type Handlers = Record<string, (params: any) => unknown>;

/** The child side: answers calls with handlers, then reports ready with info. */
export function serve(handlers: Handlers, ready: Record<string, any>, onExit?: () => unknown) {
  process.on("message", async (message: { id?: number; command: string; params?: unknown }) => {
    if (message.command === "exit") {
      try {
        await onExit?.();
      } finally {
        process.exit(0);
      }
    }
    const handler = handlers[message.command];
    try {
      if (!handler) throw new Error(`unknown command ${message.command}`);
      const result = await handler(message.params);
      process.send!({ id: message.id, result });
    } catch (error) {
      process.send!({
        id: message.id,
        error: error instanceof Error ? error.stack : String(error),
      });
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ ready });
}

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

/** CPU time and RSS of this process, for the orchestrator's reports. */
export function usage() {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    /** Of cpuMs, what the kernel spent for the process (socket reads and writes, mostly). */
    systemCpuMs: cpu.system / 1000,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    at: now(),
  };
}

/** usage() after two garbage collections a moment apart (needs --expose-gc): what is held. */
export async function settledUsage() {
  for (let i = 0; i < 2; i++) {
    global.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return usage();
}
