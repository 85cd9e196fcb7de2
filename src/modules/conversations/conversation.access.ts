import { NotFoundError } from "../../core/errors";
import { assertUuid } from "../../core/ids";
import type { RequestScope } from "../../request-scope";
import type { Conversation } from "./conversation.entity";

/**
 * The conversation `id` names, if the viewer is a current participant; NOT_FOUND otherwise, the
 * same answer for a conversation that does not exist and one the viewer is not in. Two loads,
 * batched with every other lookup of the request.
 */
export async function requireConversation(
  scope: RequestScope,
  id: string,
  field = "id",
): Promise<Conversation> {
  scope.requireViewer();
  const conversationId = assertUuid(id, field);
  const [membership, conversation] = await Promise.all([
    scope.loaders.membership.load(conversationId),
    scope.loaders.conversation.load(conversationId),
  ]);
  if (!membership || !conversation) throw new NotFoundError("Conversation");
  return conversation;
}
