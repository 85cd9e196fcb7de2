import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { mintToken } from "../../../src/modules/auth/token.service";
import { CreateConversationDocument } from "../../gql/graphql";
import { sourceOf } from "../../helpers/client";
import { TEST_JWT_SECRET } from "../../helpers/env";
import { SimClient, Stats, type Intent, type Target, type World } from "./client";
import type { RedisServer } from "../../helpers/redis-server";
import {
  buildService,
  PostgresCluster,
  ServiceInstance,
  sleep,
  startRedis,
  waitFor,
} from "./infra";
import { Rng } from "./rng";

export type FaultKind = "kill" | "redis" | "postgres" | "drop" | "slow";
export const FAULT_KINDS: readonly FaultKind[] = ["kill", "redis", "postgres", "drop", "slow"];

/** Settings of every instance; small bounds so that faults show within seconds. */
export function instanceEnv(pg: PostgresCluster, redis: RedisServer): Record<string, string> {
  return {
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "info",
    DATABASE_URL: pg.url(),
    DATABASE_POOL_MAX: "10",
    DATABASE_ACQUIRE_TIMEOUT_MS: "3000",
    REDIS_URL: redis.url,
    REDIS_PREFIX: "chaos:",
    JWT_SECRET: TEST_JWT_SECRET,
    STREAM_RESYNC_MS: "1000",
    WS_MAX_BUFFERED_BYTES: "262144",
    WS_PING_MS: "10000",
    MESSAGE_MAX_LENGTH: "70000",
    MAX_CONNECTIONS_PER_USER: "50",
    // Load generators, not people: the limits are not under test here.
    MESSAGE_RATE_LIMIT: "1000000",
    CONVERSATION_RATE_LIMIT: "1000000",
    CONNECTION_RATE_LIMIT: "1000000",
    TYPING_RATE_LIMIT: "1000000",
    REPORT_RATE_LIMIT: "1000000",
    FLOOD_MAX_REPEATS: "1000000",
  };
}

/** The service as it runs in production, several instances, on a PostgreSQL and a Redis of its own. */
export class ChaosCluster {
  /** Running instances, in the order started; killed ones leave at once. */
  readonly instances: ServiceInstance[] = [];
  readonly retired: ServiceInstance[] = [];
  /** Instances that exited without the test killing them. */
  readonly crashes: string[] = [];
  /** Scenarios' clients, stopped with the cluster (a timed-out test must not run on). */
  readonly onStop = new Set<() => Promise<void>>();
  private started = 0;

  private constructor(
    readonly pg: PostgresCluster,
    readonly redis: RedisServer,
    private readonly build: ReturnType<typeof buildService>,
    readonly size: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(size: number, env: Record<string, string> = {}): Promise<ChaosCluster> {
    const [pg, redis] = await Promise.all([PostgresCluster.create(), startRedis()]);
    const build = buildService();
    const cluster = new ChaosCluster(pg, redis, build, size, {
      ...instanceEnv(pg, redis),
      ...env,
    });
    try {
      await cluster.startInstance();
      await Promise.all(Array.from({ length: size - 1 }, () => cluster.startInstance()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Starts an instance, retrying while a dependency is down (a fault may be under way). */
  async startInstance(): Promise<ServiceInstance> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const instance = await ServiceInstance.start(
          this.build.main,
          this.env,
          `i${++this.started}`,
        );
        this.instances.push(instance);
        void instance.exited.then(() => {
          if (!instance.killedByTest) {
            this.crashes.push(`${instance.name} exited by itself:\n${instance.tail.join("\n")}`);
          }
          this.retire(instance);
        });
        return instance;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  }

  kill(instance: ServiceInstance): void {
    this.retire(instance);
    instance.kill();
  }

  pickInstance(rng: Rng): Target | null {
    return this.instances.length ? rng.pick(this.instances) : null;
  }

  /** Back to full strength: both dependencies up, `size` instances running and ready. */
  async heal(): Promise<void> {
    await this.pg.start();
    await this.redis.start();
    while (this.instances.length < this.size) await this.startInstance();
    await Promise.all(
      this.instances.map((instance) =>
        waitFor(
          `${instance.name} ready`,
          async () => (await ready(instance)).status === 200,
          30_000,
        ),
      ),
    );
  }

  /** One statement on a fresh connection (the cluster may have restarted since the last). */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.pg.url(), connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end().catch(() => {});
    }
  }

  memory(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const instance of this.instances) out[instance.name] = instance.rssBytes() ?? 0;
    return out;
  }

  requestError(requestId: string): string | undefined {
    for (const instance of [...this.instances, ...this.retired]) {
      const error = instance.requestErrors.get(requestId);
      if (error) return error;
    }
    return undefined;
  }

  /** Warnings and errors the instances logged, by message. */
  serverLog(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const instance of [...this.retired, ...this.instances]) {
      for (const [message, count] of instance.messages) out[message] = (out[message] ?? 0) + count;
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.onStop].map((stop) => stop()));
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await Promise.all([this.pg.destroy(), this.redis.destroy()]);
    this.build.remove();
  }

  private retire(instance: ServiceInstance) {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
    if (!this.retired.includes(instance)) this.retired.push(instance);
  }
}

/** GET /ready of an instance: status and checks. */
export async function ready(instance: Target): Promise<{ status: number; checks: unknown }> {
  try {
    const response = await fetch(instance.url.replace(/\/graphql$/, "/ready"), {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { checks?: unknown };
    return { status: response.status, checks: body.checks ?? null };
  } catch (error) {
    return { status: 0, checks: String(error) };
  }
}

export interface ScenarioOptions {
  seed: number;
  durationMs: number;
  users: number;
  conversations: number;
  membersPerConversation: [number, number];
  /** Mean pause between one user's sends. */
  sendIntervalMs: number;
  /** Faults to inject, chosen at random; empty: none. */
  faults: readonly FaultKind[];
  /** Pause between two faults. */
  faultGapMs: [number, number];
  /** Messages and size of the burst sent to a conversation of a client that stopped reading. */
  burst: { messages: number; textSize: number };
  /** After the run, unacknowledged sends keep retrying this long. */
  settleMs: number;
  /** After healing, clients have this long to catch up. */
  convergeMs: number;
  log?: (line: string) => void;
}

export const CI_SCENARIO: Omit<ScenarioOptions, "seed" | "faults"> = {
  durationMs: 5_000,
  users: 16,
  conversations: 6,
  membersPerConversation: [3, 6],
  sendIntervalMs: 1_200,
  faultGapMs: [1_500, 3_000],
  burst: { messages: 100, textSize: 64_000 },
  settleMs: 20_000,
  convergeMs: 30_000,
};

export interface Readiness {
  fault: FaultKind;
  status: number;
  checks: unknown;
}

export interface Summary {
  seed: number;
  faultsEnabled: readonly FaultKind[];
  users: number;
  conversations: number;
  /** Messages stored (all conversations, SYSTEM messages included). */
  messages: number;
  sends: number;
  acknowledged: number;
  /** Sends that needed more than one attempt. */
  retried: number;
  /** Sends whose answer was cut on purpose. */
  lostAcks: number;
  /** Unacknowledged at the end, and whether the server had stored them anyway. */
  abandoned: number;
  abandonedButStored: number;
  deliveries: number;
  connects: number;
  resubscribes: number;
  faults: Record<string, number>;
  faultLog: string[];
  readiness: Readiness[];
  /** Clients that stopped reading during a burst, and how the server ended their connection. */
  slowReaders: Array<{ client: string; closeCode: number | null }>;
  closeCodes: Record<string, number>;
  sendErrors: Record<string, number>;
  subscriptionEnds: Record<string, number>;
  serverLog: Record<string, number>;
  violations: string[];
  notes: string[];
  memory: {
    instancesStart: Record<string, number>;
    instancesEnd: Record<string, number>;
    harnessHeapStart: number;
    harnessHeapEnd: number;
  };
  timings: Record<string, number>;
}

const entries = <K extends string | number>(map: Map<K, number>) =>
  Object.fromEntries([...map].map(([k, v]) => [String(k), v]));

async function graphql<T>(
  cluster: ChaosCluster,
  rng: Rng,
  token: string,
  query: string,
  variables: unknown,
) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const target = cluster.pickInstance(rng);
    try {
      if (!target) throw new Error("no instance");
      const response = await fetch(target.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: T; errors?: unknown[] };
      if (body.data && !body.errors?.length) return body.data;
      throw new Error(JSON.stringify(body.errors));
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/**
 * Runs simulated clients against the cluster for durationMs while injecting faults, heals
 * everything, lets clients catch up, then checks every client's view and every send against
 * what PostgreSQL stored. Violations are listed in the summary; none is the pass mark.
 */
export async function runScenario(
  cluster: ChaosCluster,
  options: ScenarioOptions,
): Promise<Summary> {
  const log = options.log ?? (() => {});
  const root = new Rng(options.seed);
  const setupRng = root.fork(1);
  const faultRng = root.fork(2);
  const timings: Record<string, number> = {};
  let phase = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - phase;
    phase = Date.now();
  };
  const t0 = Date.now();
  const at = () => `t+${((Date.now() - t0) / 1000).toFixed(1)}s`;

  const violations: string[] = [];
  const notes: string[] = [];
  const intents = new Map<string, Intent>();
  const stats = new Stats();
  const world: World = {
    pickInstance: (rng) => cluster.pickInstance(rng),
    stats,
    violation: (text) => {
      if (violations.length < 1_000) violations.push(`${at()} ${text}`);
    },
    note: (text) => {
      if (notes.length < 100) notes.push(`${at()} ${text}`);
    },
    intents,
  };

  // Users and conversations: every user in at least one group.
  // Ids of this run only (scenarios share the cluster); everything else follows the seed.
  const tag = `c${options.seed.toString(36)}-${randomBytes(3).toString("hex")}`;
  const userIds = Array.from({ length: options.users }, (_, i) => `${tag}-u${i}`);
  const tokens = new Map<string, string>();
  for (const id of userIds) tokens.set(id, await mintToken(TEST_JWT_SECRET, id, { name: id }));
  const groups: string[][] = [];
  for (let c = 0; c < options.conversations; c++) {
    const [min, max] = options.membersPerConversation;
    groups.push(
      setupRng.shuffle(userIds).slice(0, setupRng.int(min, Math.min(max, userIds.length))),
    );
  }
  for (const id of userIds) {
    if (!groups.some((g) => g.includes(id))) setupRng.pick(groups).push(id);
  }
  const memberships = new Map<string, string[]>(userIds.map((id) => [id, []]));
  const conversationIds: string[] = [];
  const membersOf = new Map<string, string[]>();
  for (const [c, members] of groups.entries()) {
    const data = await graphql<{ createConversation: { id: string } }>(
      cluster,
      setupRng,
      tokens.get(members[0])!,
      sourceOf(CreateConversationDocument),
      { input: { kind: "GROUP", title: `${tag} group ${c}`, participantIds: members.slice(1) } },
    );
    const id = data.createConversation.id;
    conversationIds.push(id);
    membersOf.set(id, members);
    for (const member of members) memberships.get(member)!.push(id);
  }
  const clients = userIds.map(
    (id, i) =>
      new SimClient(id, tokens.get(id)!, memberships.get(id)!, world, root.fork(100 + i), {
        sendIntervalMs: options.sendIntervalMs,
        deadline: () => sendDeadline,
      }),
  );
  const byId = new Map(clients.map((client) => [client.id, client]));
  let sendDeadline = Number.POSITIVE_INFINITY;
  const stopClients = async () => {
    await Promise.all(clients.map((client) => client.stop()));
  };
  cluster.onStop.add(stopClients);
  for (const client of clients) client.start();
  await waitFor("clients to connect", async () => clients.every((c) => c.connected), 30_000);
  log(`${at()} ${clients.length} clients in ${conversationIds.length} conversations`);
  const instancesStart = cluster.memory();
  const harnessHeapStart = process.memoryUsage().heapUsed;
  lap("setupMs");

  // Steady traffic, with faults.
  for (const client of clients) client.startSending();
  const faultCounts: Record<string, number> = {};
  const faultLog: string[] = [];
  const readiness: Readiness[] = [];
  const slowReaders: Summary["slowReaders"] = [];
  const note = (kind: FaultKind, text: string) => {
    faultCounts[kind] = (faultCounts[kind] ?? 0) + 1;
    faultLog.push(`${at()} ${kind}: ${text}`);
    log(`${at()} fault ${kind}: ${text}`);
  };
  const probeReadiness = async (kind: FaultKind) => {
    const instance = cluster.instances[0];
    if (instance) readiness.push({ fault: kind, ...(await ready(instance)) });
  };

  const inject = async (kind: FaultKind, rng: Rng): Promise<void> => {
    switch (kind) {
      case "kill": {
        if (cluster.instances.length < 2) return;
        const victim = rng.pick(cluster.instances);
        note(kind, `SIGKILL ${victim.name}`);
        cluster.kill(victim);
        await sleep(rng.int(200, 1_500));
        const replacement = await cluster.startInstance();
        faultLog.push(`${at()} kill: ${replacement.name} started`);
        return;
      }
      case "redis": {
        const downMs = rng.int(500, 3_000);
        note(kind, `redis-server killed for ${downMs} ms`);
        await cluster.redis.stop("SIGKILL");
        await sleep(Math.min(300, downMs));
        await probeReadiness(kind);
        await sleep(Math.max(0, downMs - 300));
        await cluster.redis.start();
        return;
      }
      case "postgres": {
        const mode = rng.chance(0.5) ? "fast" : "immediate";
        const downMs = rng.int(500, 3_000);
        note(kind, `PostgreSQL ${mode} shutdown for ${downMs} ms`);
        await cluster.pg.stop(mode);
        await sleep(Math.min(300, downMs));
        await probeReadiness(kind);
        await sleep(Math.max(0, downMs - 300));
        await cluster.pg.start();
        return;
      }
      case "drop": {
        const count = rng.int(1, Math.max(1, Math.floor(clients.length / 3)));
        const victims = rng.shuffle(clients).slice(0, count);
        let lost = 0;
        for (const client of victims) {
          client.drop();
          if (rng.chance(0.5)) {
            const n = rng.int(1, 3);
            client.dropAnswers += n;
            lost += n;
          }
        }
        note(kind, `${count} sockets cut, ${lost} answers to be lost`);
        return;
      }
      case "slow": {
        const reader = rng.pick(clients);
        const conversationId = rng.pick(reader.conversations);
        const sender = byId.get(rng.pick(membersOf.get(conversationId)!))!;
        const pauseMs = rng.int(1_500, 5_000);
        const paused = reader.pause();
        if (!paused) return;
        note(
          kind,
          `${reader.id} stops reading for ${pauseMs} ms; ${sender.id} sends ${options.burst.messages} × ${options.burst.textSize} B`,
        );
        const burst = (async () => {
          for (let i = 0; i < options.burst.messages; i += 10) {
            const batch = Math.min(10, options.burst.messages - i);
            await Promise.all(
              Array.from({ length: batch }, () =>
                sender.sendNow(conversationId, options.burst.textSize),
              ),
            );
          }
        })();
        await sleep(pauseMs);
        reader.resume();
        await burst;
        // Bounded: a connection the server left open is reported as such (closeCode null).
        await waitFor("the paused connection to end", async () => paused.ended, 10_000).catch(
          () => {},
        );
        slowReaders.push({ client: reader.id, closeCode: paused.closeCode });
        return;
      }
    }
  };

  // The schedule is drawn from the seed up front, each fault with a generator of its own, so a seed
  // replays the same faults at the same times with the same parameters.
  const plan: Array<{ at: number; kind: FaultKind; seed: number }> = [];
  for (let at = faultRng.int(...options.faultGapMs); options.faults.length; ) {
    if (at >= options.durationMs) break;
    plan.push({ at, kind: faultRng.pick(options.faults), seed: faultRng.int(0, 2 ** 31) });
    at += faultRng.int(...options.faultGapMs);
  }
  const active = new Map<FaultKind, Promise<void>>();
  const runStart = Date.now();
  for (const step of plan) {
    await sleep(Math.max(0, runStart + step.at - Date.now()));
    // A fault of the same kind still under way is finished first.
    await active.get(step.kind);
    const done = inject(step.kind, new Rng(step.seed))
      .catch((error: unknown) => world.violation(`fault ${step.kind} failed to inject: ${error}`))
      .finally(() => {
        if (active.get(step.kind) === done) active.delete(step.kind);
      });
    active.set(step.kind, done);
  }
  await sleep(Math.max(0, runStart + options.durationMs - Date.now()));
  await Promise.all(active.values());
  // The run ends inside one last fault: the final messages are sent while it is under way, so only
  // recovery (not a later message filling the gap) can bring them to the clients.
  let finale: Promise<void> = Promise.resolve();
  if (options.faults.length) {
    const kind = faultRng.pick(options.faults);
    finale = inject(kind, new Rng(faultRng.int(0, 2 ** 31))).catch((error: unknown) =>
      world.violation(`fault ${kind} failed to inject: ${error}`),
    );
    await sleep(400);
  }
  lap("runMs");

  // Wind down: no new sends; those under way retry until settleMs has passed.
  sendDeadline = Date.now() + options.settleMs;
  const settled = Promise.all(clients.map((client) => client.stopSending()));
  await finale;
  await cluster.heal();
  for (const client of clients) client.resume();
  await settled;
  log(`${at()} sends settled; ${cluster.instances.length} instances ready`);
  lap("settleMs");

  // Every client catches up with what is stored.
  const positions = new Map(
    (
      await cluster.query<{ id: string; last_seq: number }>(
        "select id, last_seq from conversation where id = any($1::uuid[])",
        [conversationIds],
      )
    ).map((row) => [row.id, Number(row.last_seq)]),
  );
  const lagging = () =>
    clients.flatMap((client) =>
      [...client.views.values()]
        .filter((view) => view.last < positions.get(view.conversationId)!)
        .map((view) => ({ client, view })),
    );
  await waitFor(
    "clients to catch up",
    async () => lagging().length === 0,
    options.convergeMs,
  ).catch(() => {
    for (const { client, view } of lagging()) {
      world.violation(
        `client ${client.id} conversation ${view.conversationId}: has 1..${view.last} of ${positions.get(view.conversationId)} after ${options.convergeMs} ms (connected: ${client.connected})`,
      );
    }
  });
  lap("convergeMs");

  // The check: every view against the stored messages, every send against what was stored.
  const rows = await cluster.query<{
    id: string;
    conversation_id: string;
    seq: number;
    sender_id: string | null;
    client_message_id: string | null;
    text: string | null;
  }>(
    `select id, conversation_id, seq, sender_id, client_message_id, text from message
      where conversation_id = any($1::uuid[]) order by conversation_id, seq`,
    [conversationIds],
  );
  const conversations = await cluster.query<{
    id: string;
    last_seq: number;
    last_message_id: string;
  }>("select id, last_seq, last_message_id from conversation where id = any($1::uuid[])", [
    conversationIds,
  ]);
  const stored = new Map<string, typeof rows>();
  for (const row of rows) {
    const list = stored.get(row.conversation_id) ?? [];
    list.push(row);
    stored.set(row.conversation_id, list);
  }
  for (const conversation of conversations) {
    const list = stored.get(conversation.id) ?? [];
    const lastSeq = Number(conversation.last_seq);
    if (list.length !== lastSeq || list.some((row, i) => Number(row.seq) !== i + 1)) {
      world.violation(`conversation ${conversation.id}: stored seqs are not exactly 1..${lastSeq}`);
    }
    if (lastSeq && conversation.last_message_id !== list[list.length - 1]?.id) {
      world.violation(
        `conversation ${conversation.id}: last_message_id is not the message at last_seq`,
      );
    }
  }
  for (const client of clients) {
    for (const view of client.views.values()) {
      const expected = (stored.get(view.conversationId) ?? []).map((row) => row.id);
      const mismatch = view.ids.findIndex((id, i) => id !== expected[i]);
      if (mismatch >= 0) {
        world.violation(
          `client ${client.id} conversation ${view.conversationId}: seq ${mismatch + 1} is ${view.ids[mismatch]}, stored ${expected[mismatch]}`,
        );
      } else if (view.ids.length !== expected.length) {
        world.violation(
          `client ${client.id} conversation ${view.conversationId}: has ${view.ids.length} messages, stored ${expected.length}`,
        );
      }
    }
  }
  const byClientId = new Map<string, typeof rows>();
  for (const row of rows) {
    if (row.client_message_id === null) continue;
    const key = `${row.sender_id}\u0000${row.client_message_id}`;
    byClientId.set(key, [...(byClientId.get(key) ?? []), row]);
    if (
      !intents.has(row.client_message_id) ||
      intents.get(row.client_message_id)!.senderId !== row.sender_id
    ) {
      world.violation(`message ${row.id} has clientMessageId ${row.client_message_id} nobody sent`);
    }
  }
  let abandonedButStored = 0;
  for (const intent of intents.values()) {
    const copies = byClientId.get(`${intent.senderId}\u0000${intent.clientMessageId}`) ?? [];
    if (copies.length > 1) {
      world.violation(`send ${intent.clientMessageId} stored ${copies.length} times`);
    }
    const copy = copies[0];
    if (copy && (copy.text !== intent.text || copy.conversation_id !== intent.conversationId)) {
      world.violation(`send ${intent.clientMessageId} stored with other content`);
    }
    if (intent.acked) {
      if (!copy) world.violation(`acknowledged send ${intent.clientMessageId} is not stored`);
      else if (copy.id !== intent.acked.id || Number(copy.seq) !== intent.acked.seq) {
        world.violation(`acknowledged send ${intent.clientMessageId} is stored as another message`);
      }
    } else if (copy) abandonedButStored++;
  }
  for (const crash of cluster.crashes) world.violation(`instance crashed: ${crash}`);
  lap("checkMs");

  const summary: Summary = {
    seed: options.seed,
    faultsEnabled: options.faults,
    users: clients.length,
    conversations: conversationIds.length,
    messages: rows.length,
    sends: intents.size,
    acknowledged: [...intents.values()].filter((i) => i.acked).length,
    retried: [...intents.values()].filter((i) => i.attempts > 1).length,
    lostAcks: stats.lostAcks,
    abandoned: [...intents.values()].filter((i) => i.abandoned).length,
    abandonedButStored,
    deliveries: stats.deliveries,
    connects: stats.connects,
    resubscribes: stats.resubscribes,
    faults: faultCounts,
    faultLog,
    readiness,
    slowReaders,
    closeCodes: entries(stats.closeCodes),
    sendErrors: entries(stats.sendErrors),
    subscriptionEnds: entries(stats.subscriptionEnds),
    serverLog: cluster.serverLog(),
    violations,
    notes,
    memory: {
      instancesStart,
      instancesEnd: cluster.memory(),
      harnessHeapStart,
      harnessHeapEnd: process.memoryUsage().heapUsed,
    },
    timings,
  };
  // Name the server error behind each INTERNAL_SERVER_ERROR a client saw.
  summary.notes = summary.notes.map((line) => {
    const id = /request (\S+)/.exec(line)?.[1];
    const cause = id && cluster.requestError(id);
    return cause ? `${line}: ${cause}` : line;
  });
  cluster.onStop.delete(stopClients);
  await stopClients();
  return summary;
}

/** A few lines for a person: what ran, what broke, whether anything was lost. */
export function formatSummary(summary: Summary): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MB`;
  const memory = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([name, bytes]) => `${name} ${mb(bytes)}`)
      .join(", ");
  const lines = [
    `seed ${summary.seed} (replay: CHAOS_SEED=${summary.seed}); faults: ${summary.faultsEnabled.join(", ") || "none"}`,
    `messages stored ${summary.messages}; sends ${summary.sends}, acknowledged ${summary.acknowledged}, retried ${summary.retried}, answers cut ${summary.lostAcks}, abandoned ${summary.abandoned} (stored anyway: ${summary.abandonedButStored})`,
    `deliveries ${summary.deliveries}; connects ${summary.connects}; resubscribes ${summary.resubscribes}`,
    `faults injected ${JSON.stringify(summary.faults)}`,
    ...summary.faultLog.map((line) => `  ${line}`),
    `readiness during outages ${JSON.stringify(summary.readiness)}`,
    `slow readers ${JSON.stringify(summary.slowReaders)}`,
    `close codes seen by clients ${JSON.stringify(summary.closeCodes)}`,
    `send errors ${JSON.stringify(summary.sendErrors)}`,
    `subscription ends ${JSON.stringify(summary.subscriptionEnds)}`,
    `server warnings/errors ${JSON.stringify(summary.serverLog)}`,
    `memory: instances at start ${memory(summary.memory.instancesStart)}; at end ${memory(summary.memory.instancesEnd)}; harness heap ${mb(summary.memory.harnessHeapStart)} → ${mb(summary.memory.harnessHeapEnd)}`,
    `timings ${JSON.stringify(summary.timings)}`,
    ...(summary.notes.length ? ["notes", ...summary.notes.slice(0, 20).map((n) => `  ${n}`)] : []),
    `violations ${summary.violations.length}`,
    ...summary.violations.slice(0, 30).map((line) => `  ${line}`),
  ];
  return lines.join("\n");
}
