/** Takes a queue's values as they are pushed, instead of pulling them (see AsyncQueue.attach). */
export interface QueueConsumer<T> {
  push(value: T): void;
  /** The queue ended; with an error, the stream failed. */
  end(error?: unknown): void;
  /** Resolves when fewer than `max` values wait to be delivered. */
  room(max: number): Promise<void>;
}

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
  private consumer: QueueConsumer<T> | null = null;

  constructor(private readonly cleanup: () => void = () => {}) {}

  /**
   * Hands every value, from now on, to `consumer` synchronously as it is pushed: a delivery layer
   * that serves many subscribers at once avoids a promise per value per subscriber this way.
   */
  attach(consumer: QueueConsumer<T>): void {
    this.consumer = consumer;
    for (const value of this.buffer.splice(0)) consumer.push(value);
    if (this.closed) consumer.end(this.failure ?? undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when fewer than `max` values wait to be consumed (or the queue closed). */
  async room(max: number): Promise<void> {
    if (this.consumer) return this.consumer.room(max);
    while (!this.closed && this.buffer.length >= max) {
      await new Promise<void>((resolve) => this.roomWaiting.push(resolve));
    }
  }

  push(value: T): void {
    if (this.closed) return;
    if (this.consumer) return this.consumer.push(value);
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  /** Ends the stream after the buffered values; with an error, the consumer sees it next. */
  end(error?: unknown): void {
    if (this.closed) return;
    if (error !== undefined) this.failure = error;
    this.close();
    this.consumer?.end(error);
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

export interface EventHooks<T> {
  /** Before an event is executed for this subscriber alone: a fresh per-event context. */
  renew(): void;
  /** An event reached this subscriber, however it was executed. */
  delivered?(value: T): void;
}

/**
 * The events of a subscription. Pulled one by one (graphql-js executing per subscriber), each
 * event renews the subscriber's context first; a delivery layer that executes once per group of
 * subscribers attaches to `queue` instead, builds its own contexts and calls `delivered`.
 */
export class EventSource<T> implements AsyncIterableIterator<T> {
  constructor(
    readonly queue: AsyncQueue<T>,
    readonly hooks: EventHooks<T>,
  ) {}

  async next(): Promise<IteratorResult<T>> {
    const result = await this.queue.next();
    if (!result.done) {
      this.hooks.renew();
      this.hooks.delivered?.(result.value);
    }
    return result;
  }

  return(): Promise<IteratorResult<T>> {
    return this.queue.return();
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.queue.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
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
