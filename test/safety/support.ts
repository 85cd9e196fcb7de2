import { Collector, gqlOk, wsClient, type GraphQLResponse, type WsClient } from "../helpers/client";
import type { TestUser } from "../helpers/tokens";

export const ME = `{ me { id } }`;

/** Users exist once they have made a request; blocks and reports need an existing target. */
export async function signIn(url: string, ...users: TestUser[]): Promise<void> {
  await Promise.all(users.map((user) => gqlOk(url, ME, {}, user.token)));
}

/** A graphql-ws connection the server has acknowledged (a query over it has answered). */
export async function connected(wsUrl: string, user: TestUser): Promise<WsClient> {
  const ws = wsClient(wsUrl, user.token);
  const probe = new Collector(ws.client, ME);
  await probe.ended();
  if (probe.errors.length) throw new Error(`connection refused: ${JSON.stringify(probe.errors)}`);
  return ws;
}

/** The codes of the errors a subscription ended with (graphql-ws hands them over as an array). */
export function subscriptionCodes(sub: Collector): unknown[] {
  return sub.errors
    .flatMap((e) => (Array.isArray(e) ? e : [e]))
    .map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code);
}

/** The first error of an HTTP response, with its extensions. */
export function errorOf(result: GraphQLResponse) {
  return { ...result.errors?.[0], extensions: result.errors?.[0]?.extensions ?? {} };
}
