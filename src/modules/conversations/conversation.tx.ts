import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../core/errors";
import { Conversation } from "./conversation.entity";
import type { Participant } from "./participant.entity";
import { findCurrent } from "./participant.queries";

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
  const me = conversation ? await findCurrent(em, conversationId, viewerId) : null;
  if (!conversation || !me) throw new NotFoundError("Conversation");
  return { conversation, me };
}
