import type { AsyncQueue } from "../../core/async-queue";
import { audienceFeed, type ConversationFeeds } from "../../core/feed";
import { assertUuid } from "../../core/ids";
import { Topic } from "../../core/pubsub";
import type { Viewer } from "../auth/viewer";
import type { ReadReceipt, ReadReceiptEvent } from "./read-receipt.type";

/** The `readReceipt` subscription: read positions moving forward, in one or every conversation. */
export function readReceipts(
  feeds: ConversationFeeds,
  viewer: Viewer,
  conversationId: string | null | undefined,
): Promise<AsyncQueue<ReadReceipt>> {
  return feeds.open<ReadReceipt>(viewer, {
    conversationId: conversationId != null ? assertUuid(conversationId, "conversationId") : null,
    topic: Topic.readReceipt,
    feed: audienceFeed<ReadReceiptEvent, ReadReceipt>(feeds, (event) => ({
      conversationId: event.conversationId,
      user: event.user,
      lastReadSeq: event.lastReadSeq,
      readAt: new Date(event.readAt),
    })),
  });
}
