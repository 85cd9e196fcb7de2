/**
 * The long randomised run: `npm run chaos -- --minutes 10 [--seed N] [--instances 3]
 * [--faults kill,redis,postgres,drop,slow] [--users 40] [--conversations 14]`.
 * Prints the seed first (replay with --seed or CHAOS_SEED), then a summary; exits 1 on any violation.
 */
import "reflect-metadata";
import { ChaosCluster } from "./lib/cluster";
import { FAULT_KINDS, type FaultKind } from "./lib/faults";
import { seedFromEnv } from "./lib/rng";
import { CI_SCENARIO, runScenario } from "./lib/scenario";
import { formatSummary } from "./lib/summary";

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const index = args.indexOf(`--${name}`);
  if (index >= 0) return args[index + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function number(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main() {
  const seed = option("seed") !== undefined ? number("seed", 0) >>> 0 : seedFromEnv();
  const minutes = number("minutes", 10);
  const faults = (option("faults")?.split(",") ?? [...FAULT_KINDS]) as FaultKind[];
  for (const fault of faults) {
    if (!FAULT_KINDS.includes(fault)) throw new Error(`unknown fault ${fault}`);
  }
  const log = (line: string) => console.log(line);
  log(`chaos: seed ${seed} (replay: npm run chaos -- --seed ${seed} --minutes ${minutes})`);
  const started = Date.now();
  const cluster = await ChaosCluster.start(number("instances", 3));
  log(`cluster up in ${Date.now() - started} ms: ${cluster.instances.map((i) => i.url).join(" ")}`);
  let failed: boolean;
  try {
    const summary = await runScenario(cluster, {
      ...CI_SCENARIO,
      seed,
      faults,
      durationMs: minutes * 60_000,
      users: number("users", 40),
      conversations: number("conversations", 14),
      sendIntervalMs: number("send-interval", 1_500),
      faultGapMs: [2_000, 8_000],
      convergeMs: 60_000,
      log,
    });
    log(formatSummary(summary));
    failed = summary.violations.length > 0;
  } finally {
    await cluster.stop();
  }
  log(`chaos: ${failed ? "FAILED" : "passed"} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  process.exit(failed ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
