export const MESSAGE_CREATED = "message.created";

/**
 * What a push-notification service receives on the notifications channel, as JSON. Delivery is
 * at least once: consumers dedupe by eventId.
 */
export interface MessageCreatedEvent {
  /** The message's id (one event per message): the same on every (re)publication. */
  eventId: string;
  type: typeof MESSAGE_CREATED;
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  /** The participants other than the sender when the message committed. */
  recipientIds: string[];
  /** The recipients with no open connection when the event was relayed. */
  offlineRecipientIds: string[];
  /** The message's createdAt (ISO 8601). */
  createdAt: string;
}
