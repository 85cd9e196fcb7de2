import type { ChaosCluster } from "./cluster";
import type { FaultInjector, FaultKind, Readiness } from "./faults";
import type { World } from "./world";

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

/** What a finished run hands over to be summarised. */
export interface RunRecord {
  seed: number;
  faultsEnabled: readonly FaultKind[];
  users: number;
  conversations: number;
  world: World;
  violations: string[];
  notes: string[];
  checked: { messages: number; abandonedButStored: number };
  faults: FaultInjector;
  memoryStart: { instances: Record<string, number>; harnessHeap: number };
  timings: Record<string, number>;
}

export function buildSummary(cluster: ChaosCluster, run: RunRecord): Summary {
  const { stats, intents } = run.world;
  const summary: Summary = {
    seed: run.seed,
    faultsEnabled: run.faultsEnabled,
    users: run.users,
    conversations: run.conversations,
    messages: run.checked.messages,
    sends: intents.size,
    acknowledged: [...intents.values()].filter((i) => i.acked).length,
    retried: [...intents.values()].filter((i) => i.attempts > 1).length,
    lostAcks: stats.lostAcks,
    abandoned: [...intents.values()].filter((i) => i.abandoned).length,
    abandonedButStored: run.checked.abandonedButStored,
    deliveries: stats.deliveries,
    connects: stats.connects,
    resubscribes: stats.resubscribes,
    faults: run.faults.counts,
    faultLog: run.faults.faultLog,
    readiness: run.faults.readiness,
    slowReaders: run.faults.slowReaders,
    closeCodes: entries(stats.closeCodes),
    sendErrors: entries(stats.sendErrors),
    subscriptionEnds: entries(stats.subscriptionEnds),
    serverLog: cluster.serverLog(),
    violations: run.violations,
    notes: run.notes,
    memory: {
      instancesStart: run.memoryStart.instances,
      instancesEnd: cluster.memory(),
      harnessHeapStart: run.memoryStart.harnessHeap,
      harnessHeapEnd: process.memoryUsage().heapUsed,
    },
    timings: run.timings,
  };
  // Name the server error behind each INTERNAL_SERVER_ERROR a client saw.
  summary.notes = summary.notes.map((line) => {
    const id = /request (\S+)/.exec(line)?.[1];
    const cause = id && cluster.requestError(id);
    return cause ? `${line}: ${cause}` : line;
  });
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
