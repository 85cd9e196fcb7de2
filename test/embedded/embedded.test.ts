import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Collector, gqlOk, wsClient } from "../helpers/client";
import { MeDocument, MessageAddedDocument } from "../gql/graphql";
import { createDirect, sendText } from "../helpers/operations";

const ROOT = path.join(__dirname, "..", "..");
const TS_NODE = ["-r", "ts-node/register/transpile-only"];

/** What a developer has after a clone: no DATABASE_URL, REDIS_URL or JWT_SECRET. */
const bareEnv = (dataDir: string) => ({
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? os.homedir(),
  PORT: "0",
  DATA_DIR: dataDir,
});

/** `npm run token -- <args>`, as a developer would run it with the same bare environment. */
function mintWithCli(env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE, "src/token.ts", ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += String(chunk)));
    child.stderr.on("data", (chunk) => (stderr += String(chunk)));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new Error(`token exited ${code}: ${stderr}`)),
    );
  });
}

describe("Embedded default", () => {
  let dataDir: string;
  let server: ChildProcess;
  let exited: Promise<number | null>;
  let url: string;
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  const open: Array<{ dispose(): Promise<void> }> = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-embedded-"));
    server = spawn(process.execPath, [...TS_NODE, "src/main.ts"], {
      cwd: ROOT,
      env: bareEnv(dataDir),
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = new Promise((resolve) => server.on("exit", (code) => resolve(code)));
    server.stderr!.on("data", (chunk) => (stderr += String(chunk)));
    url = await new Promise<string>((resolve, reject) => {
      void exited.then((code) => reject(new Error(`server exited ${code}: ${stderr}`)));
      readline.createInterface({ input: server.stdout! }).on("line", (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          entry = { raw: line };
        }
        logs.push(entry);
        if (entry.msg === "listening") resolve(String(entry.url));
      });
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.dispose()));
    if (!server) return;
    if (server.exitCode === null) server.kill("SIGTERM");
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  }, 30_000);

  it("should start on an embedded database and in-process pub/sub, and say so", () => {
    const messages = logs.map((entry) => String(entry.msg));
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^database: embedded PGlite/),
        expect.stringMatching(/^pub\/sub: in-process/),
        expect.stringMatching(/^auth: embedded dev secret/),
      ]),
    );
    expect(logs.find((entry) => entry.msg === "listening")).toMatchObject({ level: 30 });
    expect(url).toMatch(/^http:\/\/[^/]+:\d+\/graphql$/);
  });

  it("should accept a token from `npm run token` and carry a message from alice to bob", async () => {
    const env = bareEnv(dataDir);
    const [aliceToken, bobToken] = await Promise.all([
      mintWithCli(env, ["alice", "--name", "Alice"]),
      mintWithCli(env, ["bob", "--name", "Bob"]),
    ]);
    const alice = { id: "alice", token: aliceToken };
    const bob = { id: "bob", token: bobToken };

    expect((await gqlOk(url, MeDocument, {}, alice.token)).me).toEqual({
      id: "alice",
      displayName: "Alice",
    });

    const conversation = await createDirect(url, alice, bob);
    const ws = wsClient(url.replace(/^http/, "ws"), bob.token);
    open.push(ws);
    // afterSeq 0 replays whatever is stored, then goes live: nothing to wait for in between.
    const sub = new Collector(ws.client, MessageAddedDocument, {
      conversationId: conversation.id,
      afterSeq: 0,
    });
    await sendText(url, alice, conversation.id, "hello bob");
    const [event] = await sub.take(1);
    expect(event.messageAdded).toMatchObject({
      conversationId: conversation.id,
      seq: 1,
      text: "hello bob",
      sender: { id: "alice", displayName: "Alice" },
    });
    await sendText(url, alice, conversation.id, "still there?");
    expect((await sub.take(2)).map((v) => v.messageAdded.seq)).toEqual([1, 2]);
  });
});
