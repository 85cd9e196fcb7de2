import type { Message } from "../messages/message.entity";

export const MESSAGE_CREATED = "message.created";

/**
 * What a push-notification service receives on the notifications channel, as JSON. Delivery is
 * at least once: consumers dedupe by eventId.
 */
export interface MessageCreatedEvent {
  /** The outbox row's id; the same on every (re)publication of this event. */
  eventId: string;
  type: typeof MESSAGE_CREATED;
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  /** Current participants other than the sender, at commit. */
  recipientIds: string[];
  /** The recipients with no open connection when the event was relayed; null until then. */
  offlineRecipientIds: string[] | null;
  /** The message's createdAt (ISO 8601). */
  createdAt: string;
}

/** The event of a new message: recipients are the current participants other than the sender. */
export function messageCreatedEvent(
  eventId: string,
  message: Message,
  members: readonly string[],
): MessageCreatedEvent {
  return {
    eventId,
    type: MESSAGE_CREATED,
    messageId: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId!,
    recipientIds: members.filter((id) => id !== message.senderId),
    offlineRecipientIds: null,
    createdAt: message.createdAt.toISOString(),
  };
}
