/** Resolves once `until` returns a truthy value; polls every 20 ms, fails after timeoutMs. */
export async function eventually<T>(
  until: () => Promise<T> | T,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await until();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
