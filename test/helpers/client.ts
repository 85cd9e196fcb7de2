import WebSocket from "ws";
import { print, type DocumentNode } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { Redis } from "ioredis";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { MeDocument } from "../gql/graphql";
import { TEST_REDIS_URL } from "./env";
import type { TestUser } from "./tokens";

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

/**
 * A GraphQL document: a typed one generated from test/operations (test/gql), which types the
 * variables and the data, or a literal string for documents that are odd on purpose.
 */
export type Operation<TData = Record<string, any>, TVariables = Record<string, unknown>> =
  | string
  | TypedDocumentNode<TData, TVariables>;

const printed = new WeakMap<DocumentNode, string>();

/** The text of a document, as it goes over the wire. */
export function sourceOf(query: string | DocumentNode): string {
  if (typeof query === "string") return query;
  let text = printed.get(query);
  if (text === undefined) printed.set(query, (text = print(query)));
  return text;
}

/** What Apollo Client sends: with it, refused documents answer 4xx (see test/ecosystem/graphql-http). */
export const ACCEPT = "application/graphql-response+json,application/json;q=0.9";

/** One GraphQL request over HTTP, as a browser's Apollo Client would send it. */
export async function gql<T = Record<string, any>, V = Record<string, unknown>>(
  url: string,
  query: Operation<T, V>,
  variables: NoInfer<V> = {} as V,
  token?: string | null,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: ACCEPT,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query: sourceOf(query), variables }),
  });
  const body = (await response.json()) as GraphQLResponse<T>;
  return { ...body, status: response.status };
}

/** Like gql, but fails the test on any error and returns data. */
export async function gqlOk<T = Record<string, any>, V = Record<string, unknown>>(
  url: string,
  query: Operation<T, V>,
  variables: NoInfer<V>,
  token: string,
): Promise<T> {
  const result = await gql<T, V>(url, query, variables, token);
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

/** The first error's code. */
export const codeOf = (result: GraphQLResponse) => result.errors?.[0]?.extensions?.code;

/** Asserts that the request failed with `code` (and, when given, on `field`), without data. */
export function expectError(result: GraphQLResponse, code: string, field?: string): void {
  expect(result.errors?.[0]?.extensions?.code).toBe(code);
  if (field !== undefined) expect(result.errors?.[0]?.extensions?.field).toBe(field);
}

/** The codes of the errors a subscription ended with (graphql-ws hands them over as an array). */
export function subscriptionCodes(sub: Collector): unknown[] {
  return sub.errors
    .flatMap((e) => (Array.isArray(e) ? e : [e]))
    .map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code);
}

export interface WsClient {
  client: Client;
  /** Resolves with the close event's code and reason when the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

export function wsClient(wsUrl: string, token: string | null, params?: Record<string, unknown>) {
  let resolveClosed!: (event: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: params ?? (token ? { authorization: `Bearer ${token}` } : {}),
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        resolveClosed({ code, reason: String(reason) });
      },
    },
    onNonLazyError: () => {},
  });
  return {
    client,
    closed,
    dispose: async () => {
      await client.dispose();
    },
  } satisfies WsClient;
}

/** A graphql-ws connection the server has acknowledged (a query over it has answered). */
export async function connected(wsUrl: string, user: TestUser): Promise<WsClient> {
  const ws = wsClient(wsUrl, user.token);
  const probe = new Collector(ws.client, MeDocument);
  await probe.ended();
  if (probe.errors.length) throw new Error(`connection refused: ${JSON.stringify(probe.errors)}`);
  return ws;
}

/** Disposes WebSocket clients left open by a test. */
export async function disposeAll(clients: WsClient[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
}

/** A live subscription that collects what the server sends. */
export class Collector<T = Record<string, any>, V = Record<string, unknown>> {
  readonly values: T[] = [];
  readonly errors: unknown[] = [];
  completed = false;
  private waiters: Array<() => void> = [];
  private readonly unsubscribe: () => void;

  constructor(client: Client, query: Operation<T, V>, variables: NoInfer<V> = {} as V) {
    this.unsubscribe = client.subscribe<T>(
      { query: sourceOf(query), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          if (result.errors) this.errors.push(...result.errors);
          if (result.data) this.values.push(result.data as T);
          this.notify();
        },
        error: (error) => {
          this.errors.push(error);
          this.notify();
        },
        complete: () => {
          this.completed = true;
          this.notify();
        },
      },
    );
  }

  /** Waits until `count` values arrived (or an error, or completion), within timeoutMs. */
  async take(count: number, timeoutMs = 10_000): Promise<T[]> {
    await this.until(() => this.values.length >= count, timeoutMs);
    return this.values.slice(0, count);
  }

  async until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && !this.errors.length && !this.completed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out; have ${this.values.length} values: ${JSON.stringify(this.values)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (!done()) {
      throw new Error(
        `Subscription ended early: ${JSON.stringify(this.errors)} completed=${this.completed}`,
      );
    }
  }

  /** Waits until the server ended the subscription, with an error or a completion. */
  async ended(timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.completed || this.errors.length > 0, timeoutMs).catch((e) => {
      if (!this.completed && !this.errors.length) throw e;
    });
  }

  stop(): void {
    this.unsubscribe();
  }

  private notify() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * Waits until a Redis channel has `count` subscribers: the observable point at which a server
 * instance is listening, so a test can send without racing the subscription's setup.
 */
export async function waitForChannel(channel: string, count = 1, timeoutMs = 10_000) {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [, subscribers] = (await redis.pubsub("NUMSUB", channel)) as [string, number];
      if (Number(subscribers) >= count) return;
      if (Date.now() > deadline) throw new Error(`No subscriber on ${channel}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    redis.disconnect();
  }
}
