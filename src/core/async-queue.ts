/**
 * A push-driven AsyncIterableIterator: producers push, one consumer pulls. `return()` (a client
 * unsubscribing) runs the cleanup once; values pushed after that are dropped.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<{
    resolve: (result: IteratorResult<T>) => void;
    reject: (error: unknown) => void;
  }> = [];
  private readonly roomWaiting: Array<() => void> = [];
  private closed = false;
  private failure: unknown = null;

  constructor(private readonly cleanup: () => void = () => {}) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when fewer than `max` values wait to be consumed (or the queue closed). */
  async room(max: number): Promise<void> {
    while (!this.closed && this.buffer.length >= max) {
      await new Promise<void>((resolve) => this.roomWaiting.push(resolve));
    }
  }

  push(value: T): void {
    if (this.closed) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  /** Ends the stream after the buffered values; with an error, the consumer sees it next. */
  end(error?: unknown): void {
    if (this.closed) return;
    if (error !== undefined) this.failure = error;
    this.close();
    for (const waiter of this.waiting.splice(0)) {
      if (this.failure !== null) waiter.reject(this.failure);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length) {
      const value = this.buffer.shift() as T;
      this.roomWaiting.shift()?.();
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) {
      if (this.failure !== null) {
        const failure = this.failure;
        this.failure = null;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.failure = null;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end(error);
    return this.next();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private close(): void {
    this.closed = true;
    for (const resolve of this.roomWaiting.splice(0)) resolve();
    this.cleanup();
  }
}

/**
 * Maps each value of an iterator; unlike an async generator, `return()` reaches the source at once
 * even while a `next()` is pending, so an unsubscribe frees its resources immediately.
 */
export function mapAsyncIterator<T, U>(
  source: AsyncIterator<T>,
  fn: (value: T) => U,
): AsyncIterableIterator<U> {
  return {
    async next() {
      const result = await source.next();
      return result.done
        ? { value: undefined, done: true }
        : { value: fn(result.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
