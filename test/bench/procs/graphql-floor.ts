import "reflect-metadata";
import http from "node:http";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { jwtVerify } from "jose";
import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from "graphql";
import { Redis } from "ioredis";
import { Pool } from "pg";
import {
  Arg,
  Args,
  ArgsType,
  Ctx,
  Field,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
  Subscription,
  buildSchema,
  type SubscribeResolverData,
} from "type-graphql";
import { DateTimeResolver } from "graphql-scalars";
import { serve, settledUsage, usage } from "../lib/ipc";
import { graphqlOverHttp } from "../../../src/server/graphql-http";
import { profilerHandlers } from "../lib/profiler";
import { PeerStore } from "../lib/peer-store";
import { redisCommands } from "../lib/redis-count";

/**
 * W6's floor: the stack the service is built on (Apollo Server 5 on node:http through the
 * service's own integration, graphql-ws on ws, TypeGraphQL 2, graphql-js 16, jose), serving the W6
 * subset of the API with nothing behind it: no PostgreSQL, no Redis, no checks, messages numbered
 * in memory and handed to the conversation's subscribers in-process. What a send costs here is what the chosen stack costs before any of the
 * service's own work; the service can come no closer to the peer than this.
 *
 * With DATABASE_URL and REDIS_URL (the "stack + least I/O" variants), a send makes the least I/O
 * a gapless send can: one statement that takes the row lock and the seq, checks membership and
 * inserts (lib/peer-store.ts), and one PUBLISH that delivers it (one channel per conversation,
 * as the service's fan-out subscribes); no rate limit, notification relay or content check. What a send costs
 * there is the least any implementation of the service could cost on this stack.
 */

@ObjectType()
class User {
  @Field(() => ID) id!: string;
}

@ObjectType()
class Message {
  @Field(() => ID) id!: string;
  @Field(() => ID) conversationId!: string;
  @Field(() => Int) seq!: number;
  @Field(() => String, { nullable: true }) text!: string | null;
  @Field(() => User, { nullable: true }) sender!: User | null;
  @Field(() => Date) createdAt!: Date;
}

@InputType()
class SendMessageInput {
  @Field(() => ID) conversationId!: string;
  @Field(() => String, { nullable: true }) text?: string | null;
  @Field(() => String, { nullable: true }) clientMessageId?: string | null;
}

@ArgsType()
class MessageAddedArgs {
  @Field(() => ID, { nullable: true }) conversationId?: string | null;
  @Field(() => Int, { nullable: true }) afterSeq?: number | null;
}

interface FloorContext {
  userId: string;
}

type Listener = (message: Message) => void;
const listeners = new Map<string, Set<Listener>>();
const lastSeq = new Map<string, number>();

/** The I/O mode's storage and Redis connections; null: everything in memory. */
const io = process.env.DATABASE_URL
  ? {
      store: new PeerStore(new Pool({ connectionString: process.env.DATABASE_URL, max: 10 })),
      pub: new Redis(process.env.REDIS_URL!),
      sub: new Redis(process.env.REDIS_URL!),
      prefix: `${process.env.BENCH_PREFIX ?? ""}floor.`,
    }
  : null;

function deliver(conversationId: string, message: Message) {
  for (const listener of listeners.get(conversationId) ?? []) listener(message);
}

io?.sub.on("message", (channel: string, json: string) => {
  const wire = JSON.parse(json) as Omit<Message, "createdAt"> & { createdAt: string };
  const message = Object.assign(new Message(), wire, { createdAt: new Date(wire.createdAt) });
  deliver(channel.slice(io.prefix.length), message);
});

/** The events of one conversation as an async iterator, as graphql-ws consumes a subscription. */
function feed(conversationId: string): AsyncIterableIterator<Message> {
  const queue: Message[] = [];
  let wake: ((result: IteratorResult<Message>) => void) | null = null;
  const listener: Listener = (message) => {
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve({ value: message, done: false });
    } else queue.push(message);
  };
  let set = listeners.get(conversationId);
  if (!set) {
    listeners.set(conversationId, (set = new Set()));
    void io?.sub.subscribe(io.prefix + conversationId);
  }
  set.add(listener);
  const done = () => {
    set!.delete(listener);
    return Promise.resolve({ value: undefined, done: true } as IteratorResult<Message>);
  };
  return {
    next: () =>
      queue.length
        ? Promise.resolve({ value: queue.shift()!, done: false })
        : new Promise((resolve) => (wake = resolve)),
    return: done,
    throw: done,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

@Resolver(() => Message)
class FloorResolver {
  @Query(() => Boolean)
  ok(): boolean {
    return true;
  }

  @Mutation(() => Message)
  async sendMessage(
    @Arg("input", () => SendMessageInput) input: SendMessageInput,
    @Ctx() ctx: FloorContext,
  ): Promise<Message> {
    if (io) return sendThroughIo(input, ctx);
    const seq = (lastSeq.get(input.conversationId) ?? 0) + 1;
    lastSeq.set(input.conversationId, seq);
    const message = Object.assign(new Message(), {
      id: randomUUID(),
      conversationId: input.conversationId,
      seq,
      text: input.text ?? null,
      sender: { id: ctx.userId },
      createdAt: new Date(),
    });
    deliver(input.conversationId, message);
    return message;
  }

  @Subscription(() => Message, {
    subscribe: ({ args }: SubscribeResolverData<unknown, MessageAddedArgs, FloorContext>) =>
      feed(args.conversationId ?? ""),
  })
  messageAdded(@Root() message: Message, @Args() _args: MessageAddedArgs): Message {
    return message;
  }
}

/** The I/O mode's send: one statement, then one PUBLISH that delivers it. */
async function sendThroughIo(input: SendMessageInput, ctx: FloorContext): Promise<Message> {
  const text = input.text ?? "";
  const stored = await io!.store.storeInOneStatement(input.conversationId, ctx.userId, text);
  if (!stored)
    throw new GraphQLError("Conversation not found", { extensions: { code: "NOT_FOUND" } });
  const message = Object.assign(new Message(), {
    ...stored,
    conversationId: input.conversationId,
    text,
    sender: { id: ctx.userId },
  });
  await io!.pub.publish(io!.prefix + input.conversationId, JSON.stringify(message));
  return message;
}

const key = new TextEncoder().encode(process.env.JWT_SECRET!);
// Verified once per token, as the service caches verification.
const verified = new Map<string, Promise<string>>();
function verify(token: string) {
  let userId = verified.get(token);
  if (!userId) {
    userId = jwtVerify(token, key, { algorithms: ["HS256"] }).then((r) => r.payload.sub!);
    verified.set(token, userId);
  }
  return userId;
}

const bearer = (value: unknown) => (typeof value === "string" ? value.replace(/^Bearer /, "") : "");

function floorSchema() {
  return buildSchema({
    resolvers: [FloorResolver],
    validate: false,
    // Subscriptions use `subscribe` functions (feed above), as the service's do.
    pubSub: {
      publish: () => {},
      subscribe: () => {
        throw new Error("no topics");
      },
    },
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
  });
}

/** graphql-ws on the HTTP server's /graphql. */
function serveWebSockets(schema: GraphQLSchema, httpServer: http.Server) {
  const wsServer = new WebSocketServer({ server: httpServer, path: "/graphql" });
  // Documents parsed and validated once, as the service (core/fanout.ts) and Apollo keep them.
  const documents = new Map<string, DocumentNode>();
  return useServer<{ authorization?: string }, { userId?: string }>(
    {
      schema,
      onConnect: async (ctx) => {
        ctx.extra.userId = await verify(bearer(ctx.connectionParams?.authorization));
        return true;
      },
      context: (ctx) => ({ userId: ctx.extra.userId! }),
      onSubscribe: (ctx, _id, payload) => {
        let document = documents.get(payload.query);
        if (!document) {
          document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length) return errors;
          documents.set(payload.query, document);
        }
        return {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: { userId: ctx.extra.userId! },
        };
      },
    },
    wsServer,
  );
}

async function main() {
  const schema = await floorSchema();
  let graphql: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const httpServer = http.createServer((req, res) => graphql(req, res));
  const wsCleanup = serveWebSockets(schema, httpServer);
  const apollo = new ApolloServer<FloorContext>({
    schema,
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer })],
  });
  await apollo.start();
  graphql = graphqlOverHttp(apollo, {
    context: async (req) => ({ userId: await verify(bearer(req.headers.authorization)) }),
    maxBodyBytes: 1024 * 1024,
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const port = (httpServer.address() as AddressInfo).port;
  serve(
    {
      ...profilerHandlers(),
      usage: settledUsage,
      cpu: () => usage(),
      statements: () => io?.store.statements ?? 0,
      statementsBy: () => Object.fromEntries(io?.store.byStatement ?? []),
      redisCommands,
    },
    { url: `http://127.0.0.1:${port}/graphql`, pid: process.pid },
    async () => {
      await wsCleanup.dispose();
      await apollo.stop();
      await io?.store.pool.end();
      io?.pub.disconnect();
      io?.sub.disconnect();
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
