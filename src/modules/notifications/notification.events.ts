import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
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

/**
 * Inside the sending transaction: records the event with the message, so it commits (or rolls
 * back) with it. The relay publishes it after the commit.
 */
export async function enqueueMessageCreated(
  em: EntityManager,
  channel: string,
  message: Message,
  members: readonly string[],
): Promise<void> {
  const event: MessageCreatedEvent = {
    eventId: randomUUID(),
    type: MESSAGE_CREATED,
    messageId: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId!,
    recipientIds: members.filter((id) => id !== message.senderId),
    offlineRecipientIds: null,
    createdAt: message.createdAt.toISOString(),
  };
  await em.execute(
    `insert into outbox (id, topic, channel, payload, created_at) values (?, ?, ?, ?::jsonb, ?)`,
    [event.eventId, MESSAGE_CREATED, channel, JSON.stringify(event), message.createdAt],
  );
}
