import { randomBytes } from "node:crypto";
import { mintToken } from "../../../src/modules/auth/token.service";
import { CreateConversationDocument } from "../../gql/graphql";
import { sourceOf } from "../../helpers/client";
import { TEST_JWT_SECRET } from "../../helpers/env";
import { SimClient } from "./client";
import type { ChaosCluster } from "./cluster";
import { FaultInjector, runFaults, type FaultKind } from "./faults";
import { sleep, waitFor } from "./infra";
import { awaitConvergence, checkInvariants } from "./invariants";
import { Rng } from "./rng";
import { buildSummary, type Summary } from "./summary";
import { Stats, type Intent, type World } from "./world";

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

/** Time since the run began, as log lines show it, and how long each phase took. */
class Clock {
  readonly timings: Record<string, number> = {};
  private phase = Date.now();
  private readonly t0 = Date.now();
  readonly at = () => `t+${((Date.now() - this.t0) / 1000).toFixed(1)}s`;

  lap(name: string): void {
    this.timings[name] = Date.now() - this.phase;
    this.phase = Date.now();
  }
}

/** What the clients share, with the violations and notes it collects (bounded, each timed). */
function newWorld(cluster: ChaosCluster, at: () => string) {
  const violations: string[] = [];
  const notes: string[] = [];
  const world: World = {
    pickInstance: (rng) => cluster.pickInstance(rng),
    stats: new Stats(),
    violation: (text) => {
      if (violations.length < 1_000) violations.push(`${at()} ${text}`);
    },
    note: (text) => {
      if (notes.length < 100) notes.push(`${at()} ${text}`);
    },
    intents: new Map<string, Intent>(),
  };
  return { world, violations, notes };
}

/** The run's users as simulated clients, and the conversations they are in. */
interface Population {
  clients: SimClient[];
  byId: Map<string, SimClient>;
  conversationIds: string[];
  membersOf: Map<string, string[]>;
}

/**
 * Users and conversations: every user in at least one group.
 * Ids of this run only (scenarios share the cluster); everything else follows the seed.
 */
async function createPopulation(
  cluster: ChaosCluster,
  options: ScenarioOptions,
  root: Rng,
  world: World,
  sendDeadline: () => number,
): Promise<Population> {
  const setupRng = root.fork(1);
  const tag = `c${options.seed.toString(36)}-${randomBytes(3).toString("hex")}`;
  const userIds = Array.from({ length: options.users }, (_, i) => `${tag}-u${i}`);
  const tokens = new Map<string, string>();
  for (const id of userIds) tokens.set(id, await mintToken(TEST_JWT_SECRET, id, { name: id }));
  const groups = drawGroups(userIds, options, setupRng);
  const { conversationIds, membersOf, memberships } = await createConversations(
    cluster,
    setupRng,
    tag,
    userIds,
    groups,
    tokens,
  );
  const clients = userIds.map(
    (id, i) =>
      new SimClient(id, tokens.get(id)!, memberships.get(id)!, world, root.fork(100 + i), {
        sendIntervalMs: options.sendIntervalMs,
        deadline: sendDeadline,
      }),
  );
  const byId = new Map(clients.map((client) => [client.id, client]));
  return { clients, byId, conversationIds, membersOf };
}

/** Members of each conversation, drawn from the seed; a user left out joins a random group. */
function drawGroups(
  userIds: string[],
  options: Pick<ScenarioOptions, "conversations" | "membersPerConversation">,
  rng: Rng,
): string[][] {
  const groups: string[][] = [];
  for (let c = 0; c < options.conversations; c++) {
    const [min, max] = options.membersPerConversation;
    groups.push(rng.shuffle(userIds).slice(0, rng.int(min, Math.min(max, userIds.length))));
  }
  for (const id of userIds) {
    if (!groups.some((g) => g.includes(id))) rng.pick(groups).push(id);
  }
  return groups;
}

/** One GROUP conversation per group, created by its first member, one after the other. */
async function createConversations(
  cluster: ChaosCluster,
  rng: Rng,
  tag: string,
  userIds: string[],
  groups: string[][],
  tokens: Map<string, string>,
) {
  const memberships = new Map<string, string[]>(userIds.map((id) => [id, []]));
  const conversationIds: string[] = [];
  const membersOf = new Map<string, string[]>();
  for (const [c, members] of groups.entries()) {
    const data = await graphql<{ createConversation: { id: string } }>(
      cluster,
      rng,
      tokens.get(members[0])!,
      sourceOf(CreateConversationDocument),
      { input: { kind: "GROUP", title: `${tag} group ${c}`, participantIds: members.slice(1) } },
    );
    const id = data.createConversation.id;
    conversationIds.push(id);
    membersOf.set(id, members);
    for (const member of members) memberships.get(member)!.push(id);
  }
  return { conversationIds, membersOf, memberships };
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
  const faultRng = root.fork(2);
  const clock = new Clock();
  const { world, violations, notes } = newWorld(cluster, clock.at);
  let sendDeadline = Number.POSITIVE_INFINITY;
  const population = await createPopulation(cluster, options, root, world, () => sendDeadline);
  const { clients, conversationIds } = population;
  const stopClients = async () => {
    await Promise.all(clients.map((client) => client.stop()));
  };
  cluster.onStop.add(stopClients);
  for (const client of clients) client.start();
  await waitFor("clients to connect", async () => clients.every((c) => c.connected), 30_000);
  log(`${clock.at()} ${clients.length} clients in ${conversationIds.length} conversations`);
  const memoryStart = { instances: cluster.memory(), harnessHeap: process.memoryUsage().heapUsed };
  clock.lap("setupMs");

  // Steady traffic, with faults.
  for (const client of clients) client.startSending();
  const faults = new FaultInjector(
    {
      cluster,
      clients,
      byId: population.byId,
      membersOf: population.membersOf,
      burst: options.burst,
    },
    clock.at,
    log,
    world.violation,
  );
  const { finale } = await runFaults(faults, faultRng, options);
  clock.lap("runMs");

  // Wind down: no new sends; those under way retry until settleMs has passed.
  sendDeadline = Date.now() + options.settleMs;
  const settled = Promise.all(clients.map((client) => client.stopSending()));
  await finale;
  await cluster.heal();
  for (const client of clients) client.resume();
  await settled;
  log(`${clock.at()} sends settled; ${cluster.instances.length} instances ready`);
  clock.lap("settleMs");

  await awaitConvergence(cluster, conversationIds, clients, options.convergeMs, world);
  clock.lap("convergeMs");
  const checked = await checkInvariants(cluster, conversationIds, clients, world);
  clock.lap("checkMs");

  const summary = buildSummary(cluster, {
    seed: options.seed,
    faultsEnabled: options.faults,
    users: clients.length,
    conversations: conversationIds.length,
    world,
    violations,
    notes,
    checked,
    faults,
    memoryStart,
    timings: clock.timings,
  });
  cluster.onStop.delete(stopClients);
  await stopClients();
  return summary;
}
