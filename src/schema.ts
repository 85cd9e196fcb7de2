import { DateTimeResolver } from "graphql-scalars";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type AuthChecker, type PubSub } from "type-graphql";
import type { Context } from "./context";
import { UnauthenticatedError } from "./core/errors";
import { ConversationResolver } from "./modules/conversations/conversation.resolver";
import { ParticipantResolver } from "./modules/conversations/participant.resolver";
import { ConversationMessagesResolver } from "./modules/messages/conversation-messages.resolver";
import { MessageResolver, SystemEventResolver } from "./modules/messages/message.resolver";
import { ModerationResolver } from "./modules/moderation/moderation.resolver";
import { PresenceResolver } from "./modules/presence/presence.resolver";
import { ReceiptResolver } from "./modules/receipts/receipt.resolver";
import { TypingResolver } from "./modules/typing/typing.resolver";
import { UserResolver } from "./modules/users/user.resolver";

export const resolvers = [
  UserResolver,
  ParticipantResolver,
  ConversationResolver,
  ConversationMessagesResolver,
  MessageResolver,
  SystemEventResolver,
  ReceiptResolver,
  TypingResolver,
  PresenceResolver,
  ModerationResolver,
] as const;

/** `@Authorized()` means signed in; finer rules (participant, moderator) live in the services. */
const authChecker: AuthChecker<Context> = ({ context }) => {
  if (!context.viewer) throw new UnauthenticatedError();
  return true;
};

/**
 * TypeGraphQL insists on a PubSub when a schema has subscriptions, but ours use `subscribe`
 * functions over the instance's own bus (core/pubsub.ts), so a `topics` subscription is a bug.
 */
const topicsNotSupported: PubSub = {
  publish() {
    throw new Error("Publish through AppServices.pubsub, not TypeGraphQL's pubSub");
  },
  subscribe() {
    throw new Error("Use a `subscribe` function, not `topics`, for subscriptions");
  },
};

let cached: Promise<GraphQLSchema> | null = null;

/** The schema is the same for every instance in a process, so it is built once. */
export function getSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers,
    authChecker,
    validate: false,
    pubSub: topicsNotSupported,
    // The contract's scalar is DateTime (STACK.md, trap 11).
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
  });
  return cached;
}

/** The SDL committed as schema/schema.graphql: sorted, so diffs show real changes only. */
export async function printSortedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
}
