import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { buildSchema, GraphQLObjectType } from "graphql";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { serve, settledUsage } from "../lib/ipc";

/**
 * Peer (c): the plain framework. A minimal graphql-ws server on graphql-redis-subscriptions with
 * a topic per conversation: every subscriber's selection is executed and serialised on its own.
 */
const SDL = `
  type Query { ok: Boolean }
  type User { id: ID! displayName: String }
  type Attachment {
    mediaId: ID! url: String! mimeType: String! name: String size: Int width: Int height: Int
  }
  type Message {
    id: ID! conversationId: ID! seq: Int! kind: String! text: String clientMessageId: String
    createdAt: String! editedAt: String deletedAt: String sender: User attachments: [Attachment!]!
  }
  type Subscription { messageAdded(conversationId: ID): Message! }
`;

async function main() {
  const prefix = process.env.BENCH_PREFIX!;
  const publisher = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  const subscriber = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const schema = buildSchema(SDL);
  const field = (schema.getSubscriptionType() as GraphQLObjectType).getFields().messageAdded;
  field.subscribe = (_root, args: { conversationId: string }) =>
    pubsub.asyncIterableIterator(prefix + args.conversationId);
  field.resolve = (payload: unknown) => payload;

  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: "/graphql" });
  useServer({ schema }, wss);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  serve({ usage: settledUsage }, { url: `ws://127.0.0.1:${port}/graphql`, pid: process.pid });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
