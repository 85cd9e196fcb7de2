import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../core/errors";
import { Conversation } from "./conversation.entity";
import { Participant } from "./participant.entity";

/**
 * Inside a transaction: locks the conversation row (serialising seq assignment and membership
 * changes) and returns it with the viewer's current participant row; NOT_FOUND for non-members.
 */
export async function lockConversation(
  em: EntityManager,
  conversationId: string,
  viewerId: string,
): Promise<{ conversation: Conversation; me: Participant }> {
  const conversation = await em.findOne(
    Conversation,
    { id: conversationId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  const me = conversation
    ? await em.findOne(Participant, { conversationId, userId: viewerId, leftAt: null })
    : null;
  if (!conversation || !me) throw new NotFoundError("Conversation");
  return { conversation, me };
}

/** Ids of the current participants: the audience of an event committed with this transaction. */
export async function currentMembers(em: EntityManager, conversationId: string): Promise<string[]> {
  const rows = await em.execute<{ user_id: string }[]>(
    "select user_id from participant where conversation_id = ? and left_at is null",
    [conversationId],
  );
  return rows.map((r) => r.user_id);
}
