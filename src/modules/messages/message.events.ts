import type { User } from "../users/user.entity";
import type { Attachment } from "./attachment.type";
import { messageRecord, type Message } from "./message.entity";
import type { MessageKind } from "./message.enums";
import type { SystemEvent } from "./system-event.type";

/** A message as it travels through pub/sub: plain JSON, with what subscribers need to render it. */
export interface MessagePayload {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string | null;
  sender: Pick<User, "id" | "displayName"> | null;
  kind: MessageKind;
  text: string | null;
  attachments: Attachment[];
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  /** SYSTEM messages only: live subscribers render the notice from it. */
  systemEvent: SystemEvent | null;
}

/** Published on Topic.messageAdded after the sending transaction commits. */
export interface MessageAddedEvent {
  message: MessagePayload;
  /** Current participants at commit time: the only users this event may reach. */
  audience: string[];
}

/** Published on Topic.messageUpdated after an edit or a deletion commits. */
export interface MessageUpdatedEvent {
  message: MessagePayload;
  audience: string[];
}

/** A Message carrying its sender, so resolving `sender` for a delivered event reads nothing. */
export type MessageWithSender = Message & { sender?: Pick<User, "id" | "displayName"> | null };

export function toPayload(
  message: Message,
  sender: Pick<User, "id" | "displayName"> | null,
): MessagePayload {
  return {
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    sender: sender ? { id: sender.id, displayName: sender.displayName } : null,
    kind: message.kind,
    text: message.text,
    attachments: message.attachments,
    clientMessageId: message.clientMessageId,
    createdAt: message.createdAt.toISOString(),
    editedAt: message.editedAt?.toISOString() ?? null,
    deletedAt: message.deletedAt?.toISOString() ?? null,
    systemEvent: message.systemEvent,
  };
}

/** The message of an event, with its sender, as subscribers resolve it (a plain record). */
export function fromPayload(payload: MessagePayload): MessageWithSender {
  const message: MessageWithSender = messageRecord({
    ...payload,
    createdAt: new Date(payload.createdAt),
    editedAt: payload.editedAt ? new Date(payload.editedAt) : null,
    deletedAt: payload.deletedAt ? new Date(payload.deletedAt) : null,
  });
  message.sender = payload.sender;
  return message;
}
