import { Conversation } from "./conversation.entity";
import type { ConversationKind } from "./conversation.enums";

/** A conversation as conversationUpdated carries it: plain JSON, dates as ISO strings. */
export interface ConversationPayload {
  id: string;
  kind: ConversationKind;
  title: string | null;
  subject: string | null;
  lastSeq: number;
  lastMessageId: string | null;
  createdAt: string;
  lastActivityAt: string;
}

export function toConversationPayload(c: Conversation): ConversationPayload {
  return {
    id: c.id,
    kind: c.kind,
    title: c.title,
    subject: c.subject,
    lastSeq: c.lastSeq,
    lastMessageId: c.lastMessageId,
    createdAt: c.createdAt.toISOString(),
    lastActivityAt: c.lastActivityAt.toISOString(),
  };
}

export function fromConversationPayload(p: ConversationPayload): Conversation {
  return Object.assign(Object.create(Conversation.prototype) as Conversation, {
    ...p,
    directKey: null,
    createdAt: new Date(p.createdAt),
    lastActivityAt: new Date(p.lastActivityAt),
  });
}
