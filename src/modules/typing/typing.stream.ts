import type { AsyncQueue } from "../../core/async-queue";
import { assertUuid } from "../../core/ids";
import { Topic } from "../../core/pubsub";
import type { Viewer } from "../auth/viewer";
import type { ConversationStreams } from "../conversations/conversation.stream";
import { typingFeed } from "./typing.service";
import type { TypingEvent } from "./typing.type";

/** The `typing` subscription: others typing in one conversation. */
export function typingEvents(
  streams: ConversationStreams,
  viewer: Viewer,
  conversationId: string,
): Promise<AsyncQueue<TypingEvent>> {
  return streams.open<TypingEvent>(viewer, {
    conversationId: assertUuid(conversationId, "conversationId"),
    topic: Topic.typing,
    feed: typingFeed(streams),
  });
}
