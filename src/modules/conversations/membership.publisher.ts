import type { MembershipChange } from "../../core/feed";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import type { RequestScope } from "../../request-scope";
import type { Viewer } from "../auth/viewer";
import type { Message } from "../messages/message.entity";
import type { MessagePublisher } from "../messages/message.publisher";
import type { TypingService } from "../typing/typing.service";
import type { Conversation } from "./conversation.entity";
import { toConversationPayload } from "./conversation.events";

type Member = Pick<Viewer, "id" | "displayName">;

/** A membership change as it committed: what `publish` tells whom. */
export interface CommittedChange {
  conversation: Conversation;
  /** The current participants once the change committed. */
  members: string[];
  /** The SYSTEM messages it wrote, in seq order. */
  messages: Message[];
  /** Who joined; the conversation's events after sinceSeq are theirs. */
  joined?: { userIds: string[]; sinceSeq: number };
  /** Who left or was removed; `toldOfIt`: whether they receive the SYSTEM messages about it. */
  left?: { user: Member; toldOfIt: boolean };
}

/**
 * The one way a committed membership change (a conversation created, joined, left, a member
 * added, removed or given a role) reaches subscribers.
 */
export class MembershipPublisher {
  constructor(
    private readonly pubsub: PubSub,
    private readonly messages: MessagePublisher,
    private readonly typing: TypingService,
    private readonly logger: Logger,
  ) {}

  /**
   * After commit, in this order: who left (their access ends, their typing stops), the SYSTEM
   * messages, who joined, then every inbox concerned. A lost publish is only logged: clients
   * resuming with afterSeq recover it.
   */
  async publish(ctx: RequestScope, change: CommittedChange): Promise<void> {
    const { conversation, members, joined, left } = change;
    const conversationId = conversation.id;
    if (left) {
      await this.publishMembership([left.user.id], { type: "left", conversationId, sinceSeq: 0 });
      await this.typing.stop(left.user, conversationId, members);
    }
    const told = left?.toldOfIt ? [...members, left.user.id] : members;
    for (const message of change.messages) {
      await this.messages.added(ctx, message, told);
    }
    if (joined) {
      const { userIds, sinceSeq } = joined;
      await this.publishMembership(userIds, { type: "joined", conversationId, sinceSeq });
    }
    await this.publishUpdated(left ? [...members, left.user.id] : members, conversation);
  }

  /** conversationUpdated for each user's inbox. */
  private async publishUpdated(userIds: string[], conversation: Conversation): Promise<void> {
    const payload = toConversationPayload(conversation);
    await Promise.all(
      [...new Set(userIds)].map((userId) =>
        this.pubsub.publish(Topic.conversationUpdated(userId), payload).catch((error: unknown) => {
          this.logger.warn({ err: error, userId }, "conversationUpdated publish failed");
        }),
      ),
    );
  }

  private async publishMembership(userIds: string[], event: MembershipChange): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.pubsub.publish(Topic.membership(userId), event).catch((error: unknown) => {
          this.logger.warn({ err: error, userId }, "membership publish failed");
        }),
      ),
    );
  }
}
