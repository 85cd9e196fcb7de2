import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

export interface ChildServer {
  process: ChildProcess;
  url: string;
  wsUrl: string;
  /** Every JSON log line the server printed so far. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

const ROOT = path.join(__dirname, "..", "..");

/** The real server as its own process (src/main.ts through ts-node), for crash and drain tests. */
export async function startChildServer(env: Record<string, string>, timeoutMs = 60_000) {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start")), timeoutMs);
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += String(chunk)));
    void exited.then((code) => reject(new Error(`server exited ${code}: ${stderr}`)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "listening") {
          clearTimeout(timer);
          resolve(String(entry.url));
        }
      } catch {
        logs.push({ raw: line });
      }
    });
  });
  return { process: child, url, wsUrl: url.replace(/^http/, "ws"), logs, exited } as ChildServer;
}
