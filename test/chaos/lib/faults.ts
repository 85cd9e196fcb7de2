import type { SimClient } from "./client";
import { ready, type ChaosCluster } from "./cluster";
import { sleep, waitFor } from "./infra";
import { Rng } from "./rng";

export type FaultKind = "kill" | "redis" | "postgres" | "drop" | "slow";
export const FAULT_KINDS: readonly FaultKind[] = ["kill", "redis", "postgres", "drop", "slow"];

export interface Readiness {
  fault: FaultKind;
  status: number;
  checks: unknown;
}

/** A client that stopped reading during a burst, and how the server ended its connection. */
export interface SlowReader {
  client: string;
  closeCode: number | null;
}

/** What faults act on: the cluster, and the clients with the conversations they are in. */
export interface FaultTargets {
  cluster: ChaosCluster;
  clients: SimClient[];
  byId: Map<string, SimClient>;
  membersOf: Map<string, string[]>;
  /** Messages and size of the burst sent to a conversation of a client that stopped reading. */
  burst: { messages: number; textSize: number };
}

/** When faults happen: kinds to choose from, the pause between two, and how long the run lasts. */
export interface FaultSchedule {
  faults: readonly FaultKind[];
  faultGapMs: [number, number];
  durationMs: number;
}

/** Injects one fault at a time and records what it did, for the summary. */
export class FaultInjector {
  readonly counts: Record<string, number> = {};
  readonly faultLog: string[] = [];
  readonly readiness: Readiness[] = [];
  readonly slowReaders: SlowReader[] = [];

  constructor(
    private readonly targets: FaultTargets,
    private readonly at: () => string,
    private readonly log: (line: string) => void,
    private readonly violation: (text: string) => void,
  ) {}

  /** Injects a fault; one that cannot be injected is a violation (the run did not test it). */
  launch(kind: FaultKind, rng: Rng): Promise<void> {
    return this.inject(kind, rng).catch((error: unknown) =>
      this.violation(`fault ${kind} failed to inject: ${error}`),
    );
  }

  private async inject(kind: FaultKind, rng: Rng): Promise<void> {
    switch (kind) {
      case "kill":
        return this.kill(rng);
      case "redis":
        return this.redisOutage(rng);
      case "postgres":
        return this.postgresOutage(rng);
      case "drop":
        this.drop(rng);
        return;
      case "slow":
        return this.slowReader(rng);
    }
  }

  private note(kind: FaultKind, text: string) {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.faultLog.push(`${this.at()} ${kind}: ${text}`);
    this.log(`${this.at()} fault ${kind}: ${text}`);
  }

  private async probeReadiness(kind: FaultKind) {
    const instance = this.targets.cluster.instances[0];
    if (instance) this.readiness.push({ fault: kind, ...(await ready(instance)) });
  }

  private async kill(rng: Rng): Promise<void> {
    const { cluster } = this.targets;
    if (cluster.instances.length < 2) return;
    const victim = rng.pick(cluster.instances);
    this.note("kill", `SIGKILL ${victim.name}`);
    cluster.kill(victim);
    await sleep(rng.int(200, 1_500));
    const replacement = await cluster.startInstance();
    this.faultLog.push(`${this.at()} kill: ${replacement.name} started`);
  }

  private async redisOutage(rng: Rng): Promise<void> {
    const { cluster } = this.targets;
    const downMs = rng.int(500, 3_000);
    this.note("redis", `redis-server killed for ${downMs} ms`);
    await cluster.redis.stop("SIGKILL");
    await sleep(Math.min(300, downMs));
    await this.probeReadiness("redis");
    await sleep(Math.max(0, downMs - 300));
    await cluster.redis.start();
  }

  private async postgresOutage(rng: Rng): Promise<void> {
    const { cluster } = this.targets;
    const mode = rng.chance(0.5) ? "fast" : "immediate";
    const downMs = rng.int(500, 3_000);
    this.note("postgres", `PostgreSQL ${mode} shutdown for ${downMs} ms`);
    await cluster.pg.stop(mode);
    await sleep(Math.min(300, downMs));
    await this.probeReadiness("postgres");
    await sleep(Math.max(0, downMs - 300));
    await cluster.pg.start();
  }

  private drop(rng: Rng): void {
    const { clients } = this.targets;
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
    this.note("drop", `${count} sockets cut, ${lost} answers to be lost`);
  }

  private async slowReader(rng: Rng): Promise<void> {
    const { clients, byId, membersOf, burst } = this.targets;
    const reader = rng.pick(clients);
    const conversationId = rng.pick(reader.conversations);
    const sender = byId.get(rng.pick(membersOf.get(conversationId)!))!;
    const pauseMs = rng.int(1_500, 5_000);
    const paused = reader.pause();
    if (!paused) return;
    this.note(
      "slow",
      `${reader.id} stops reading for ${pauseMs} ms; ${sender.id} sends ${burst.messages} × ${burst.textSize} B`,
    );
    const sending = sendBurst(sender, conversationId, burst);
    await sleep(pauseMs);
    reader.resume();
    await sending;
    // Bounded: a connection the server left open is reported as such (closeCode null).
    await waitFor("the paused connection to end", async () => paused.ended, 10_000).catch(() => {});
    this.slowReaders.push({ client: reader.id, closeCode: paused.closeCode });
  }
}

/** burst.messages sends of burst.textSize, ten at a time. */
async function sendBurst(
  sender: SimClient,
  conversationId: string,
  burst: FaultTargets["burst"],
): Promise<void> {
  for (let i = 0; i < burst.messages; i += 10) {
    const batch = Math.min(10, burst.messages - i);
    await Promise.all(
      Array.from({ length: batch }, () => sender.sendNow(conversationId, burst.textSize)),
    );
  }
}

/**
 * Injects faults for schedule.durationMs, then starts one last fault. Resolves 400 ms into that
 * one, with `finale` settling when it is over.
 */
export async function runFaults(
  injector: FaultInjector,
  rng: Rng,
  schedule: FaultSchedule,
): Promise<{ finale: Promise<void> }> {
  const plan = planFaults(rng, schedule);
  const active = new Map<FaultKind, Promise<void>>();
  const runStart = Date.now();
  for (const step of plan) {
    await sleep(Math.max(0, runStart + step.at - Date.now()));
    // A fault of the same kind still under way is finished first.
    await active.get(step.kind);
    const done = injector.launch(step.kind, new Rng(step.seed)).finally(() => {
      if (active.get(step.kind) === done) active.delete(step.kind);
    });
    active.set(step.kind, done);
  }
  await sleep(Math.max(0, runStart + schedule.durationMs - Date.now()));
  await Promise.all(active.values());
  // The run ends inside one last fault: the final messages are sent while it is under way, so only
  // recovery (not a later message filling the gap) can bring them to the clients.
  let finale: Promise<void> = Promise.resolve();
  if (schedule.faults.length) {
    const kind = rng.pick(schedule.faults);
    finale = injector.launch(kind, new Rng(rng.int(0, 2 ** 31)));
    await sleep(400);
  }
  return { finale };
}

/**
 * The schedule is drawn from the seed up front, each fault with a generator of its own, so a seed
 * replays the same faults at the same times with the same parameters.
 */
function planFaults(
  rng: Rng,
  schedule: FaultSchedule,
): Array<{ at: number; kind: FaultKind; seed: number }> {
  const plan: Array<{ at: number; kind: FaultKind; seed: number }> = [];
  for (let at = rng.int(...schedule.faultGapMs); schedule.faults.length; ) {
    if (at >= schedule.durationMs) break;
    plan.push({ at, kind: rng.pick(schedule.faults), seed: rng.int(0, 2 ** 31) });
    at += rng.int(...schedule.faultGapMs);
  }
  return plan;
}
