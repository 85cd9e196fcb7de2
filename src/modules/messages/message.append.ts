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

/** A Message entity for `fields`; `persist`: inserted by the next flush. */
function newMessage(
  em: EntityManager,
  conversationId: string,
  seq: number,
  fields: NewMessage,
  createdAt: Date,
  persist: boolean,
): Message {
  return em.create(
    Message,
    {
      conversationId,
      seq,
      kind: fields.kind,
      senderId: fields.senderId,
      text: fields.text,
      attachments: fields.attachments ?? [],
      clientMessageId: fields.clientMessageId ?? null,
      systemEvent: fields.systemEvent ?? null,
      createdAt,
    },
    { persist },
  );
}

/** Appends a message with the next seq; the caller holds the conversation's row lock. */
export function appendMessage(
  em: EntityManager,
  conversation: Conversation,
  fields: NewMessage,
  now = new Date(),
): Message {
  const message = newMessage(em, conversation.id, conversation.lastSeq + 1, fields, now, true);
  conversation.lastSeq = message.seq;
  conversation.lastMessageId = message.id;
  conversation.lastActivityAt = now;
  return message;
}

/** What sendMessage needs of a conversation, read under its row lock. */
export interface LockedForSend {
  kind: string;
  lastSeq: number;
  /** Current participants, the sender included when it is one. */
  members: string[];
}

/**
 * Inside a transaction, in one statement: locks the conversation's row (serialising seq) and reads
 * its kind, last seq and current participants. Null when there is no such conversation.
 */
export async function lockForSend(
  em: EntityManager,
  conversationId: string,
): Promise<LockedForSend | null> {
  const rows = await em.execute<Array<{ kind: string; last_seq: number; members: string[] }>>(
    `select c.kind, c.last_seq,
            array(select p.user_id from participant p
                   where p.conversation_id = c.id and p.left_at is null) as members
       from conversation c where c.id = ? for update`,
    [conversationId],
  );
  const row = rows[0];
  return row ? { kind: row.kind, lastSeq: Number(row.last_seq), members: row.members } : null;
}

/**
 * Inside the transaction holding the conversation's lock, in one statement: inserts the sender's
 * message with the next seq, moves the conversation's last message and the sender's read position
 * to it, and records the notification event (`outbox`), so all of it commits or none does.
 */
export async function insertSentMessage(
  em: EntityManager,
  locked: LockedForSend,
  conversationId: string,
  fields: NewMessage & { senderId: string },
  outbox: { id: string; topic: string; channel: string; payload: (message: Message) => unknown },
  now = new Date(),
): Promise<Message> {
  // Written by the statement below, not by the unit of work.
  const message = newMessage(em, conversationId, locked.lastSeq + 1, fields, now, false);
  await em.execute(
    `with m as (
       insert into message (id, conversation_id, seq, sender_id, kind, text, attachments,
                            client_message_id, created_at)
       values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)
     ), c as (
       update conversation set last_seq = ?, last_message_id = ?, last_activity_at = ? where id = ?
     ), p as (
       update participant set last_read_seq = ?, last_read_at = ?
        where conversation_id = ? and user_id = ? and left_at is null
     )
     insert into outbox (id, topic, channel, payload, created_at) values (?, ?, ?, ?::jsonb, ?)`,
    [
      message.id,
      conversationId,
      message.seq,
      message.senderId,
      message.kind,
      message.text,
      JSON.stringify(message.attachments),
      message.clientMessageId,
      now,
      message.seq,
      message.id,
      now,
      conversationId,
      message.seq,
      now,
      conversationId,
      fields.senderId,
      outbox.id,
      outbox.topic,
      outbox.channel,
      JSON.stringify(outbox.payload(message)),
      now,
    ],
  );
  return message;
}
