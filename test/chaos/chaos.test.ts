import { ChaosCluster } from "./lib/cluster";
import { FAULT_KINDS, type FaultKind } from "./lib/faults";
import { seedFromEnv } from "./lib/rng";
import { CI_SCENARIO, runScenario, type ScenarioOptions } from "./lib/scenario";
import { formatSummary, type Summary } from "./lib/summary";

/**
 * Three instances of the real server (child processes) on a PostgreSQL cluster and a redis-server of
 * the test's own; simulated clients send at a steady rate and keep their views as apps do. Each
 * test injects faults, heals, lets clients catch up, and checks every view and every send against
 * what PostgreSQL stored (test/chaos/lib/invariants.ts). Replay a run with CHAOS_SEED=<seed>.
 */
describe("Delivery under faults", () => {
  const seed = seedFromEnv();
  let cluster: ChaosCluster;

  beforeAll(async () => {
    console.log(`chaos seed ${seed} (replay: CHAOS_SEED=${seed} npx jest test/chaos)`);
    cluster = await ChaosCluster.start(3);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  async function run(faults: FaultKind[], options: Partial<ScenarioOptions> = {}) {
    const summary = await runScenario(cluster, { ...CI_SCENARIO, seed, faults, ...options });
    console.log(formatSummary(summary));
    return summary;
  }

  /** The promises: nothing lost, nothing twice, order kept, every acknowledged send stored once. */
  function expectKept(summary: Summary) {
    expect(summary.violations).toEqual([]);
    expect(summary.acknowledged).toBeGreaterThan(0);
    expect(summary.deliveries).toBeGreaterThan(0);
    // No hang: every attempt was answered, or failed, well within the client's 15 s bound.
    expect(summary.sendErrors.timeout).toBeUndefined();
    // Clear errors: an outage is UNAVAILABLE, never a masked INTERNAL_SERVER_ERROR, and no
    // connection is closed with 4500, which graphql-ws clients never retry.
    expect(summary.sendErrors.INTERNAL_SERVER_ERROR).toBeUndefined();
    expect(summary.closeCodes["4500"]).toBeUndefined();
  }

  /** The promises kept through outages of `dependency`, each reported by /ready while it lasted. */
  function expectOutageReported(summary: Summary, dependency: "redis" | "postgres") {
    expectKept(summary);
    expect(summary.faults[dependency]).toBeGreaterThan(0);
    expect(summary.readiness.length).toBeGreaterThan(0);
    for (const probe of summary.readiness) {
      expect(probe).toMatchObject({ status: 503, checks: { [dependency]: "unavailable" } });
    }
  }

  it("should deliver every message exactly once and in order without faults", async () => {
    expectKept(await run([], { durationMs: 4_000 }));
  }, 90_000);

  it("should lose nothing when an instance is SIGKILLed mid-stream and its clients resume on another", async () => {
    const summary = await run(["kill"]);
    expectKept(summary);
    expect(summary.faults.kill).toBeGreaterThan(0);
  }, 90_000);

  it("should catch subscribers up after Redis restarts, and report the outage on /ready", async () => {
    expectOutageReported(await run(["redis"]), "redis");
  }, 90_000);

  it("should answer UNAVAILABLE while PostgreSQL restarts, report it on /ready, and store nothing twice", async () => {
    expectOutageReported(await run(["postgres"]), "postgres");
  }, 90_000);

  it("should resume clients whose sockets are cut and whose answers are lost, storing each send once", async () => {
    const summary = await run(["drop"]);
    expectKept(summary);
    expect(summary.faults.drop).toBeGreaterThan(0);
  }, 90_000);

  it("should close a client that stops reading with 4008, and resume it by afterSeq", async () => {
    const summary = await run(["slow"]);
    expectKept(summary);
    expect(summary.slowReaders.length).toBeGreaterThan(0);
    for (const reader of summary.slowReaders) expect(reader.closeCode).toBe(4008);
  }, 90_000);

  it("should keep every promise with all faults together, randomised by the printed seed", async () => {
    const summary = await run([...FAULT_KINDS], { durationMs: 12_000 });
    expectKept(summary);
  }, 120_000);
});
