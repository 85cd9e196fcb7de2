import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "../../src/core/metrics";

/** What a scrape of /metrics shows must not depend on which of the two histograms counted. */
describe("FastHistogram", () => {
  const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

  it("should print exactly what prom-client's Histogram prints for the same observations", async () => {
    const fastRegistry = new Registry();
    const referenceRegistry = new Registry();
    const fast = new FastHistogram("x_seconds", "Some latency.", bounds, fastRegistry);
    const reference = new Histogram({
      name: "x_seconds",
      help: "Some latency.",
      buckets: bounds,
      registers: [referenceRegistry],
    });
    expect(await fastRegistry.metrics()).toBe(await referenceRegistry.metrics());
    for (const value of [0, 0.004, 0.005, 0.0051, 0.3, 2, 29.9, 30, 31, 100]) {
      fast.observe(value);
      reference.observe(value);
    }
    expect(await fastRegistry.metrics()).toBe(await referenceRegistry.metrics());
  });

  it("should start again from zero when the registry resets", async () => {
    const registry = new Registry();
    const fast = new FastHistogram("y_seconds", "Some latency.", bounds, registry);
    const zero = await registry.metrics();
    fast.observe(0.2);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(zero);
  });
});
