import type { execute, ExecutionResult } from "graphql";

/** Whether graphql-js made a source stream (as opposed to an ExecutionResult of errors). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof Object(value)[Symbol.asyncIterator] === "function";
}

/** graphql-js's own mapping of a source stream (subscribe()), for sources that cannot be grouped. */
export function mapEvents(
  source: AsyncIterable<unknown>,
  map: (event: unknown) => ReturnType<typeof execute>,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    async next() {
      const result = await iterator.next();
      return result.done
        ? { value: undefined, done: true }
        : { value: await map(result.value), done: false };
    },
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
