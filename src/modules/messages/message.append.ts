import type { EntityManager } from "@mikro-orm/postgresql";
import type { Conversation } from "../conversations/conversation.entity";
import { Message } from "./message.entity";
import type { MessageKind } from "./message.enums";
import type { SystemEvent } from "./system-event.type";

export interface NewMessage {
  kind: MessageKind;
  senderId: string | null;
  text: string | null;
  attachments?: Message["attachments"];
  clientMessageId?: string | null;
  systemEvent?: SystemEvent | null;
}

/** Appends a message with the next seq; the caller holds the conversation's row lock. */
export function appendMessage(
  em: EntityManager,
  conversation: Conversation,
  fields: NewMessage,
  now = new Date(),
): Message {
  const message = em.create(Message, {
    conversationId: conversation.id,
    seq: conversation.lastSeq + 1,
    kind: fields.kind,
    senderId: fields.senderId,
    text: fields.text,
    attachments: fields.attachments ?? [],
    clientMessageId: fields.clientMessageId ?? null,
    systemEvent: fields.systemEvent ?? null,
    createdAt: now,
  });
  conversation.lastSeq = message.seq;
  conversation.lastMessageId = message.id;
  conversation.lastActivityAt = now;
  return message;
}
