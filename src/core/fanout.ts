import {
  createSourceEventStream,
  execute,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type GraphQLSchema,
} from "graphql";
import type WebSocket from "ws";
import { EventSource } from "./async-queue";
import {
  APART,
  Delivery,
  PENDING,
  READY,
  type DeliveryHost,
  type Entry,
  type Target,
} from "./fanout.delivery";
import {
  checkOperation,
  parseAndValidate,
  type SubscribePayload,
  type VariableCheck,
} from "./fanout.documents";
import { sharedSelection } from "./fanout.selection";
import { isAsyncIterable, mapEvents } from "./fanout.source";

// Where tests and callers have always imported it from.
export { sharedSelection } from "./fanout.selection";

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
  /** Limits that need the variables (the cost limit), checked once they coerce. */
  checkVariables?: VariableCheck;
}

/** Documents longer than this are parsed and validated every time. */
const MAX_CACHED_QUERY = 16 * 1024;

/**
 * Subscription delivery that executes a selection once per event for each group of subscribers
 * with the same document, variables and visible data, and writes the same serialised `next` frame
 * to each of them. Authorisation stays per subscriber: a value reaches a group's result only when
 * a subscriber's own feed (audience and membership checks) pushed it, so whoever may not see an
 * event never gets it. Plugs into graphql-ws as its `onSubscribe` and `subscribe` hooks.
 */
export class Fanout<C> implements DeliveryHost {
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
    const refused =
      checkOperation(this.options.schema, document, payload) ??
      this.options.checkVariables?.(document, payload.operationName, payload.variables);
    if (refused?.length) return refused;
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

/** JSON with object keys sorted, so equal variables give equal group keys. */
function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

function isPromise<T>(value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
