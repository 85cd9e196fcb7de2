/** The q-quantile (0..1) of values, by nearest rank on a sorted copy. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function concat(arrays: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

export function summary(values: ArrayLike<number>) {
  return { n: values.length, p50: quantile(values, 0.5), p99: quantile(values, 0.99) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() is true; throws after timeoutMs. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Reads `stats` every 100 ms until `expected` deliveries arrived, or none for quietMs. */
export async function settleDeliveries<T extends { received: number }>(
  stats: () => Promise<T>,
  expected: number,
  quietMs: number,
): Promise<T> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const current = await stats();
    if (current.received >= expected) return current;
    if (current.received !== last) {
      last = current.received;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) return current;
    await sleep(100);
  }
}
