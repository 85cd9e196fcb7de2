import type { ExecutionArgs, ExecutionResult } from "graphql";
import WebSocket from "ws";
import type { AsyncQueue, EventHooks, EventSource, QueueConsumer } from "./async-queue";

/** Where a subscription's `next` frames go: its socket and graphql-ws's subscription id. */
export interface Target {
  socket: WebSocket;
  id: string;
}

export const PENDING = 0;
export const READY = 1;
/** Executed apart for each subscriber (its result had errors, or the value cannot be shared). */
export const APART = 2;

/** One event's result for one group: executed once, serialised once, written to every member. */
export interface Entry {
  state: typeof PENDING | typeof READY | typeof APART;
  value: unknown;
  /** `<payload JSON>}`: the shared end of every member's `next` frame. */
  tail: Buffer | null;
  waiters: Delivery[] | null;
}

/** A subscriber whose socket holds this much unsent data gets no more replayed history for now. */
const HIGH_WATER_BYTES = 256 * 1024;

/** What a Delivery asks of its engine (core/fanout.ts's Fanout). */
export interface DeliveryHost {
  entryFor(value: unknown, group: string, args: ExecutionArgs): Entry;
  send(socket: WebSocket, prefix: Buffer, tail: Buffer): void;
  delivered(args: ExecutionArgs): void;
  execute(args: ExecutionArgs, value: unknown): ExecutionResult | Promise<ExecutionResult>;
}

/**
 * One subscription's delivery. It takes its feed's values synchronously (AsyncQueue.attach) and
 * writes shared frames in order; a value whose group result had errors is executed for this
 * subscriber alone and handed to graphql-ws (masking, error handling) through the iterator.
 * The iterator resolves `done` when the feed ends, and its `return()` is the unsubscribe.
 */
export class Delivery implements AsyncIterableIterator<ExecutionResult>, QueueConsumer<unknown> {
  private readonly queue: AsyncQueue<unknown>;
  private readonly hooks: EventHooks<unknown>;
  private readonly items: Entry[] = [];
  private head = 0;
  private readonly prefix: Buffer;
  private closed = false;
  private ended = false;
  private failure: unknown = undefined;
  /** A result given to graphql-ws, or being prepared for it: frames behind it wait. */
  private handedOver = false;
  private outbox: ExecutionResult | null = null;
  private inFlight = false;
  private waiting: {
    resolve: (result: IteratorResult<ExecutionResult>) => void;
    reject: (error: unknown) => void;
  } | null = null;
  private roomWaiters: Array<() => void> = [];

  constructor(
    private readonly fanout: DeliveryHost,
    private readonly args: ExecutionArgs,
    private readonly target: Target,
    source: EventSource<unknown>,
    private readonly group: string,
  ) {
    this.prefix = Buffer.from(`{"id":${JSON.stringify(target.id)},"type":"next","payload":`);
    this.queue = source.queue;
    this.hooks = source.hooks;
    this.queue.attach(this);
  }

  push(value: unknown): void {
    if (this.closed) return;
    const entry = this.fanout.entryFor(value, this.group, this.args);
    if (entry.state === READY && this.head === this.items.length && !this.handedOver) {
      this.write(entry);
      return;
    }
    this.items.push(entry);
    if (entry.state === PENDING) entry.waiters!.push(this);
    else this.flush();
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.flush();
  }

  async room(max: number): Promise<void> {
    while (!this.closed) {
      if (this.items.length - this.head >= max) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      } else if (this.target.socket.bufferedAmount > HIGH_WATER_BYTES) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      } else return;
    }
  }

  /** Writes what is ready, in order, up to the first value still executing. */
  flush(): void {
    while (!this.closed && !this.handedOver && this.head < this.items.length) {
      const entry = this.items[this.head];
      if (entry.state === PENDING) break;
      this.items[this.head++] = undefined as never;
      if (entry.state === READY) this.write(entry);
      else this.handOver(entry.value);
    }
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    if (this.roomWaiters.length) for (const wake of this.roomWaiters.splice(0)) wake();
    if (this.ended && !this.handedOver && !this.items.length) this.finish();
  }

  private write(entry: Entry): void {
    const socket = this.target.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    this.fanout.send(socket, this.prefix, entry.tail!);
    this.hooks.delivered?.(entry.value);
    this.fanout.delivered(this.args);
  }

  private handOver(value: unknown): void {
    this.handedOver = true;
    Promise.resolve()
      .then(() => this.fanout.execute(this.args, value))
      .then(
        (result) => {
          this.hooks.delivered?.(value);
          this.give(result);
        },
        (error: unknown) => {
          // As graphql-js's subscribe does when executing an event throws: the stream fails.
          this.handedOver = false;
          this.items.length = this.head = 0;
          this.ended = true;
          this.failure = toError(error);
          this.finish();
        },
      );
  }

  private give(result: ExecutionResult): void {
    if (this.closed) return;
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = null;
      this.inFlight = true;
      waiter.resolve({ value: result, done: false });
    } else this.outbox = result;
  }

  private finish(): void {
    const waiter = this.waiting;
    if (!waiter || this.outbox) return;
    this.waiting = null;
    this.closed = true;
    if (this.failure !== undefined) waiter.reject(this.failure);
    else waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.inFlight) {
      // graphql-ws asks for the next result once it has sent the previous one.
      this.inFlight = false;
      this.handedOver = false;
      this.flush();
    }
    if (this.outbox) {
      const result = this.outbox;
      this.outbox = null;
      this.inFlight = true;
      return Promise.resolve({ value: result, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      if (this.ended && !this.handedOver && !this.items.length) this.finish();
    });
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.closed = true;
    this.items.length = 0;
    this.head = 0;
    this.outbox = null;
    for (const wake of this.roomWaiters.splice(0)) wake();
    const waiter = this.waiting;
    this.waiting = null;
    waiter?.resolve({ value: undefined, done: true });
    await this.queue.return();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
