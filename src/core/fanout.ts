import {
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isAbstractType,
  isCompositeType,
  Kind,
  parse,
  validate as graphqlValidate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLSchema,
  type SelectionSetNode,
} from "graphql";
import WebSocket from "ws";
import { EventSource, type AsyncQueue, type EventHooks, type QueueConsumer } from "./async-queue";

export interface FanoutOptions<C> {
  schema: GraphQLSchema;
  /** The same validation graphql-ws would run (custom rules included). */
  validate?: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
  /** True when Type.field resolves to the same value for every viewer, given the same parent. */
  isShared: (typeName: string, fieldName: string) => boolean;
  /** Who the data is resolved for: subscriptions whose selection is not shared group per viewer. */
  viewerKey: (context: C) => string;
  /** A fresh context to execute one event with, made from a subscriber's own context. */
  eventContext: (context: C) => C;
  /** After a frame went out on the grouped path, as graphql-ws's onNext would be called. */
  onDelivered?: (context: C) => void;
  /** Parsed and validated documents kept, most recently used first. */
  documentCacheSize?: number;
  /** A document with more tokens is a syntax error (graphql-js's own limit), as over HTTP. */
  maxTokens?: number;
}

interface SubscribePayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

interface Target {
  socket: WebSocket;
  id: string;
}

const PENDING = 0;
const READY = 1;
/** Executed apart for each subscriber (its result had errors, or the value cannot be shared). */
const APART = 2;

/** One event's result for one group: executed once, serialised once, written to every member. */
interface Entry {
  state: typeof PENDING | typeof READY | typeof APART;
  value: unknown;
  /** `<payload JSON>}`: the shared end of every member's `next` frame. */
  tail: Buffer | null;
  waiters: Delivery[] | null;
}

/** Documents longer than this are parsed and validated every time. */
const MAX_CACHED_QUERY = 16 * 1024;
/** A subscriber whose socket holds this much unsent data gets no more replayed history for now. */
const HIGH_WATER_BYTES = 256 * 1024;

/**
 * Subscription delivery that executes a selection once per event for each group of subscribers
 * with the same document, variables and visible data, and writes the same serialised `next` frame
 * to each of them. Authorisation stays per subscriber: a value reaches a group's result only when
 * a subscriber's own feed (audience and membership checks) pushed it, so whoever may not see an
 * event never gets it. Plugs into graphql-ws as its `onSubscribe` and `subscribe` hooks.
 */
export class Fanout<C> {
  private readonly documents = new Map<
    string,
    { document: DocumentNode; errors: readonly GraphQLError[] }
  >();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private readonly sharedOperations = new WeakMap<DocumentNode, Map<string, boolean>>();
  private readonly targets = new WeakMap<ExecutionArgs, Target>();
  private readonly entries = new WeakMap<object, Map<string, Entry>>();
  private nextDocumentId = 1;

  constructor(private readonly options: FanoutOptions<C>) {}

  /**
   * graphql-ws's onSubscribe: parses and validates like graphql-ws itself, once per distinct
   * document. A syntax error is an `error` message coded GRAPHQL_PARSE_FAILED (as over HTTP), where
   * graphql-ws's own parse would close the whole connection with 4500.
   */
  onSubscribe = (
    ctx: { extra: { socket: WebSocket } },
    id: string,
    payload: SubscribePayload,
  ): ExecutionArgs | readonly GraphQLError[] => {
    const { document, errors } = this.prepare(payload.query);
    if (errors.length) return errors;
    const refused = checkOperation(this.options.schema, document, payload);
    if (refused) return refused;
    const args: ExecutionArgs = {
      schema: this.options.schema,
      document,
      operationName: payload.operationName,
      variableValues: payload.variables,
    };
    this.targets.set(args, { socket: ctx.extra.socket, id });
    return args;
  };

  /** graphql-ws's subscribe: graphql-js's own, but grouped when the source allows it. */
  subscribe = async (
    args: ExecutionArgs,
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source as ExecutionResult;
    const target = this.targets.get(args);
    if (target && source instanceof EventSource) {
      return new Delivery(this, args, target, source as EventSource<unknown>, this.groupOf(args));
    }
    return mapEvents(source, (event) => execute({ ...args, rootValue: event }));
  };

  private prepare(query: string) {
    let prepared = this.documents.get(query);
    if (prepared) {
      // Most recently used last; the oldest are evicted first.
      this.documents.delete(query);
      this.documents.set(query, prepared);
      return prepared;
    }
    prepared = parseAndValidate(query, this.options);
    if (query.length <= MAX_CACHED_QUERY) {
      this.documents.set(query, prepared);
      if (this.documents.size > (this.options.documentCacheSize ?? 1000)) {
        this.documents.delete(this.documents.keys().next().value as string);
      }
    }
    return prepared;
  }

  /** The group of a subscription: document, operation, variables, and the viewer unless shared. */
  private groupOf(args: ExecutionArgs): string {
    let documentId = this.documentIds.get(args.document);
    if (documentId === undefined) {
      documentId = this.nextDocumentId++;
      this.documentIds.set(args.document, documentId);
    }
    const operation = args.operationName ?? "";
    const viewer = this.isSharedOperation(args.document, operation)
      ? "*"
      : `viewer:${this.options.viewerKey(args.contextValue as C)}`;
    return `${documentId}\u0000${operation}\u0000${stableJson(args.variableValues ?? {})}\u0000${viewer}`;
  }

  private isSharedOperation(document: DocumentNode, operationName: string): boolean {
    let byName = this.sharedOperations.get(document);
    if (!byName) this.sharedOperations.set(document, (byName = new Map()));
    let shared = byName.get(operationName);
    if (shared === undefined) {
      shared = sharedSelection(
        this.options.schema,
        document,
        operationName || null,
        this.options.isShared,
      );
      byName.set(operationName, shared);
    }
    return shared;
  }

  /** The entry of (event, group): the first member to ask starts the execution. */
  entryFor(value: unknown, group: string, args: ExecutionArgs): Entry {
    if (value === null || typeof value !== "object") {
      return { state: APART, value, tail: null, waiters: null };
    }
    let groups = this.entries.get(value);
    if (!groups) this.entries.set(value, (groups = new Map()));
    let entry = groups.get(group);
    if (entry) return entry;
    entry = { state: PENDING, value, tail: null, waiters: [] };
    groups.set(group, entry);
    let result: ReturnType<typeof execute>;
    try {
      result = this.execute(args, value);
    } catch {
      settle(entry, null);
      return entry;
    }
    if (isPromise(result)) {
      const pending = entry;
      result.then(
        (r) => settle(pending, r),
        () => settle(pending, null),
      );
    } else settle(entry, result);
    return entry;
  }

  /**
   * Writes a `next` frame: the subscriber's own `{"id":…,"type":"next","payload":` and the group's
   * shared tail, through ws.send (so socket wrappers apply: the bound on unsent bytes, and the
   * corking that sends a burst of frames as one write, core/bounded-socket.ts).
   */
  send(socket: WebSocket, prefix: Buffer, tail: Buffer): void {
    socket.send(Buffer.concat([prefix, tail], prefix.length + tail.length), { binary: false });
  }

  delivered(args: ExecutionArgs): void {
    this.options.onDelivered?.(args.contextValue as C);
  }

  /** Executes one event for one subscription, with a fresh context, as graphql-js would. */
  execute(args: ExecutionArgs, value: unknown) {
    return execute({
      ...args,
      contextValue: this.options.eventContext(args.contextValue as C),
      rootValue: value,
    });
  }
}

function settle(entry: Entry, result: ExecutionResult | null) {
  if (!result || result.errors?.length) entry.state = APART;
  else {
    entry.tail = Buffer.from(`${JSON.stringify(result)}}`);
    entry.state = READY;
  }
  const waiters = entry.waiters;
  entry.waiters = null;
  if (waiters) for (const delivery of waiters) delivery.flush();
}

/**
 * One subscription's delivery. It takes its feed's values synchronously (AsyncQueue.attach) and
 * writes shared frames in order; a value whose group result had errors is executed for this
 * subscriber alone and handed to graphql-ws (masking, error handling) through the iterator.
 * The iterator resolves `done` when the feed ends, and its `return()` is the unsubscribe.
 */
class Delivery implements AsyncIterableIterator<ExecutionResult>, QueueConsumer<unknown> {
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
    private readonly fanout: Pick<Fanout<any>, "entryFor" | "execute" | "delivered" | "send">,
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

/** Whether every field the operation selects is shared (see FanoutOptions.isShared). */
export function sharedSelection(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null,
  isShared: (typeName: string, fieldName: string) => boolean,
): boolean {
  const operation = getOperationAST(document, operationName);
  const root = schema.getSubscriptionType();
  if (!operation || operation.operation !== "subscription" || !root) return false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  const typeNamed = (name: string) => {
    const type = schema.getType(name);
    return type && isCompositeType(type) ? type : null;
  };
  const visit = (type: GraphQLCompositeType, set: SelectionSetNode, depth: number): boolean => {
    if (depth > 50) return false;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === "__typename") continue;
        const concrete = isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
        for (const object of concrete) {
          const field = "getFields" in object ? object.getFields()[name] : undefined;
          if (!field || !isShared(object.name, name)) return false;
          if (!selection.selectionSet) continue;
          const child = getNamedType(field.type);
          if (!isCompositeType(child) || !visit(child, selection.selectionSet, depth + 1)) {
            return false;
          }
        }
      } else {
        const fragment =
          selection.kind === Kind.FRAGMENT_SPREAD ? fragments.get(selection.name.value) : selection;
        if (!fragment) return false;
        const condition = fragment.typeCondition
          ? typeNamed(fragment.typeCondition.name.value)
          : type;
        if (!condition || !visit(condition, fragment.selectionSet, depth + 1)) return false;
      }
    }
    return true;
  };
  return visit(root, operation.selectionSet, 0);
}

/** JSON with object keys sorted, so equal variables give equal group keys. */
function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof Object(value)[Symbol.asyncIterator] === "function";
}

function isPromise<T>(value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** graphql-js's own mapping of a source stream (subscribe()), for sources that cannot be grouped. */
function mapEvents(
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

/**
 * The operation to run and its variables, checked before execution as Apollo checks them over
 * HTTP: no operation is OPERATION_RESOLUTION_FAILURE, a variable that does not coerce is
 * BAD_USER_INPUT (uncoded, they would reach the client as internal errors).
 */
function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  payload: SubscribePayload,
): readonly GraphQLError[] | null {
  const operation = getOperationAST(document, payload.operationName);
  if (!operation) {
    const message = payload.operationName
      ? `Unknown operation named "${payload.operationName}".`
      : "Must provide operation name if query contains multiple operations.";
    return [new GraphQLError(message, { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
  }
  const variables = payload.variables ?? {};
  if (typeof variables !== "object" || Array.isArray(variables)) {
    return [
      new GraphQLError("Variables must be an object", { extensions: { code: "BAD_REQUEST" } }),
    ];
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, {
    maxErrors: 50,
  });
  if (!coerced.errors) return null;
  return coerced.errors.map(
    (error) =>
      new GraphQLError(error.message, {
        nodes: error.nodes,
        extensions: { ...error.extensions, code: "BAD_USER_INPUT" },
      }),
  );
}

/** The document and its errors; a syntax error is one error coded GRAPHQL_PARSE_FAILED. */
function parseAndValidate(
  query: string,
  {
    schema,
    validate,
    maxTokens,
  }: Pick<FanoutOptions<unknown>, "schema" | "validate" | "maxTokens">,
): { document: DocumentNode; errors: readonly GraphQLError[] } {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const coded = new GraphQLError(error.message, {
      source: error.source,
      positions: error.positions,
      extensions: { code: "GRAPHQL_PARSE_FAILED" },
    });
    return { document: { kind: Kind.DOCUMENT, definitions: [] }, errors: [coded] };
  }
  return { document, errors: (validate ?? graphqlValidate)(schema, document) };
}
