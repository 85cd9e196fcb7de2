import type { RequestScope } from "../../request-scope";
import { BadUserInputError } from "../../core/errors";
import { assertUuid } from "../../core/ids";
import { Topic, type PubSub } from "../../core/pubsub";
import type { Conversation } from "../conversations/conversation.entity";
import { requireConversation } from "../conversations/conversation.access";
import {
  advanceReadPosition,
  countUnreadTotal,
  currentMembers,
} from "../conversations/participant.queries";
import type { ReadReceiptEvent } from "./read-receipt.type";

export class ReceiptService {
  constructor(private readonly pubsub: PubSub) {}

  /**
   * Moves the viewer's read position up to upToSeq (default and ceiling: the newest message),
   * never backwards; publishes a receipt only when it moved.
   */
  async markRead(
    ctx: RequestScope,
    id: string,
    upToSeq: number | null | undefined,
  ): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    if (upToSeq != null && upToSeq < 0) {
      throw new BadUserInputError("upToSeq", "upToSeq must not be negative");
    }
    const moved = await ctx.em.transactional(async (em) => {
      const read = await advanceReadPosition(em, conversationId, viewer.id, upToSeq ?? null);
      return read ? { ...read, audience: await currentMembers(em, conversationId) } : null;
    });
    // Also the authorisation: a non-participant moved nothing and gets NOT_FOUND here.
    const conversation = await requireConversation(ctx, conversationId, "conversationId");
    if (moved) {
      const event: ReadReceiptEvent = {
        conversationId,
        user: { id: viewer.id, displayName: viewer.displayName },
        lastReadSeq: moved.last_read_seq,
        readAt: new Date(moved.last_read_at).toISOString(),
        audience: moved.audience,
      };
      await this.pubsub.publish(Topic.readReceipt(conversationId), event).catch((error) => {
        ctx.log.error({ err: error, conversationId }, "readReceipt publish failed");
      });
    }
    return conversation;
  }

  /** The badge: unread messages over all of the viewer's conversations, in one statement. */
  async unreadTotal(ctx: RequestScope): Promise<number> {
    const viewer = ctx.requireViewer();
    return countUnreadTotal(ctx.em, viewer.id);
  }
}
