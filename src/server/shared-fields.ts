import type { DocumentNode, GraphQLError, GraphQLSchema } from "graphql";
import { isObjectType } from "graphql";
import { Context } from "../context";
import { Fanout, type FanoutOptions } from "../core/fanout";

/**
 * Fields that resolve from the event alone, the same for every viewer: a subscription selecting
 * only these is executed once per event for all its subscribers. Anything else (unread counts,
 * roles, presence, the conversation) depends on who asks, so it is executed once per viewer.
 * Add a field here only if its resolver never reads the viewer or what the viewer may see.
 */
const SHARED_FIELDS: Record<string, readonly string[]> = {
  Subscription: ["messageAdded", "messageUpdated"],
  Message: [
    "id",
    "conversationId",
    "seq",
    "kind",
    "text",
    "attachments",
    "clientMessageId",
    "createdAt",
    "editedAt",
    "deletedAt",
    "systemEvent",
    // The payload carries the sender's id and name.
    "sender",
  ],
  Attachment: ["mediaId", "url", "mimeType", "name", "size", "width", "height"],
  SystemEvent: ["type", "actor", "users"],
  User: ["id", "displayName"],
};

/** The instance's subscription delivery (core/fanout.ts) with this schema's shared fields. */
export function createFanout(
  schema: GraphQLSchema,
  validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[],
  onDelivered: (context: Context) => void,
  maxTokens?: number,
  checkVariables?: FanoutOptions<Context>["checkVariables"],
): Fanout<Context> {
  const shared = new Map<string, Set<string>>();
  for (const [typeName, fields] of Object.entries(SHARED_FIELDS)) {
    const type = schema.getType(typeName);
    for (const field of fields) {
      // A renamed field must not silently fall out of (or into) the shared set.
      if (!isObjectType(type) || !type.getFields()[field]) {
        throw new Error(`fanout: ${typeName}.${field} is not in the schema`);
      }
    }
    shared.set(typeName, new Set(fields));
  }
  return new Fanout<Context>({
    schema,
    validate,
    isShared: (typeName, fieldName) => shared.get(typeName)?.has(fieldName) ?? false,
    viewerKey: (context) => context.viewer?.id ?? "",
    eventContext: (context) => new Context(context.services, context.viewer, context.requestId),
    onDelivered,
    maxTokens,
    checkVariables,
  });
}
