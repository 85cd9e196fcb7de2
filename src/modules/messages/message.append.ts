/*
 * The only writer of seq. A message's seq is its conversation's last_seq + 1, taken while the
 * transaction holds the conversation's row lock, so seqs are gapless and in commit order. Two paths:
 * - SYSTEM messages: appendMessage, inside a conversation.service transaction that locked the row
 *   (lockConversation) and changes membership in the same unit of work, which inserts the message.
 * - Sends (MessageService.send): appendSentMessage, one statement and no transaction, whose
 *   `last_seq + 1` update takes the lock and the seq at once; when its conditions do not hold,
 *   sendLocked locks first (lockForSend) and insertSentMessage writes with the seq it read.
 * The send statements were measured against the unit of work, so they stay apart from
 * appendMessage: a change to how seq is assigned changes all three.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { executePrepared } from "../../core/orm";
import { isCurrent } from "../conversations/participant.queries";
import type { Conversation } from "../conversations/conversation.entity";
import { Message, messageRecord } from "./message.entity";
import { MessageKind } from "./message.enums";
import type { SystemEvent } from "./system-event.type";

/**
 * A sent message's place in the notification relay's log (message.xid): the sending
 * transaction's id, or the conversation's previous one when that is higher. Transaction ids are
 * taken before the row lock is, so a later seq can have a lower id; carried forward under the
 * lock, a conversation's log order is its seq order, and still no entry is ever below the id of
 * the transaction that wrote it (which is what the relay's horizon needs).
 */
const NEXT_LOG_XID = "last_xid = greatest(last_xid, pg_current_xact_id())";

export interface NewMessage {
  kind: MessageKind;
  senderId: string | null;
  text: string | null;
  attachments?: Message["attachments"];
  clientMessageId?: string | null;
  systemEvent?: SystemEvent | null;
}

/** A Message for `fields`; `persist`: an entity inserted by the next flush, else a plain record. */
function newMessage(
  em: EntityManager,
  conversationId: string,
  seq: number,
  fields: NewMessage,
  createdAt: Date,
  persist: boolean,
): Message {
  const values = {
    conversationId,
    seq,
    kind: fields.kind,
    senderId: fields.senderId,
    text: fields.text,
    attachments: fields.attachments ?? [],
    clientMessageId: fields.clientMessageId ?? null,
    systemEvent: fields.systemEvent ?? null,
    createdAt,
  };
  // A message written by a statement of its own needs none of the unit of work's bookkeeping.
  return persist ? em.create(Message, values, { persist }) : messageRecord(values);
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

/** A SYSTEM message recording `event`, appended as appendMessage does (the caller holds the lock). */
export function appendSystemMessage(
  em: EntityManager,
  conversation: Conversation,
  event: SystemEvent,
  text: string,
  now: Date,
): Message {
  const fields = { kind: MessageKind.SYSTEM, senderId: null, text, systemEvent: event };
  return appendMessage(em, conversation, fields, now);
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
                   where p.conversation_id = c.id and ${isCurrent("p")}) as members
       from conversation c where c.id = ? for update`,
    [conversationId],
  );
  const row = rows[0];
  return row ? { kind: row.kind, lastSeq: Number(row.last_seq), members: row.members } : null;
}

/**
 * Inside the transaction holding the conversation's lock, in one statement: inserts the sender's
 * message with the next seq and moves the conversation's last message and the sender's read
 * position to it, so all of it commits or none does. The message row is the notification
 * relay's log entry too (message.xid).
 */
export async function insertSentMessage(
  em: EntityManager,
  locked: LockedForSend,
  conversationId: string,
  fields: NewMessage & { senderId: string },
  now = new Date(),
): Promise<Message> {
  // Written by the statement below, not by the unit of work.
  const message = newMessage(em, conversationId, locked.lastSeq + 1, fields, now, false);
  await em.execute(
    `with c as (
       update conversation set last_seq = ?, last_message_id = ?, last_activity_at = ?,
                               ${NEXT_LOG_XID}
        where id = ? returning last_xid
     ), m as (
       insert into message (id, conversation_id, seq, sender_id, kind, text, attachments,
                            client_message_id, created_at, xid)
       select ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, c.last_xid from c
     )
     update participant set last_read_seq = ?, last_read_at = ?
      where conversation_id = ? and user_id = ? and ${isCurrent("participant")}`,
    [
      message.seq,
      message.id,
      now,
      conversationId,
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
      now,
      conversationId,
      fields.senderId,
    ],
  );
  return message;
}

/**
 * The whole send in one statement, with no transaction around it: moves the conversation's
 * last_seq (taking its row lock and the seq at once), inserts the message and moves the sender's
 * read position. It happens only when the sender is a current
 * participant, no block stands between the two users of a DIRECT conversation, the sender has
 * not used clientMessageId yet, and no membership change committed after the statement began
 * (member_epoch): the members it read are then still the members under the lock. Null when any
 * of that does not hold; the caller then takes the lock-then-read path, which says why.
 */
export async function appendSentMessage(
  em: EntityManager,
  conversationId: string,
  fields: NewMessage & { senderId: string },
  now = new Date(),
): Promise<{ message: Message; members: string[] } | null> {
  // Its seq is known once the statement has run.
  const message = newMessage(em, conversationId, 0, fields, now, false);
  const rows = await executePrepared<{ seq: number; members: string[] }>(
    em,
    "chat_send_message",
    SEND_STATEMENT,
    [
      conversationId,
      fields.senderId,
      message.id,
      // ISO 8601 with the zone: what pg would make of the Date, without its slower formatting.
      now.toISOString(),
      fields.clientMessageId ?? null,
      fields.kind,
      fields.text,
      JSON.stringify(fields.attachments ?? []),
    ],
  );
  const row = rows[0];
  if (!row) return null;
  message.seq = Number(row.seq);
  return { message, members: row.members };
}

/** $1 conversation, $2 sender, $3 message id, $4 now, $5 clientMessageId, $6 kind, $7 text,
 * $8 attachments. */
const SEND_STATEMENT = `
  with c as (
    update conversation c set last_seq = c.last_seq + 1, last_message_id = $3, last_activity_at = $4,
                              ${NEXT_LOG_XID}
     where c.id = $1
       and c.member_epoch = (select e.member_epoch from conversation e where e.id = $1)
       and exists (select 1 from participant p where p.conversation_id = c.id
                      and p.user_id = $2 and ${isCurrent("p")})
       and (c.kind <> 'DIRECT' or not exists (
             select 1 from participant o join block b
                 on (b.blocker_id = $2 and b.blocked_id = o.user_id)
                 or (b.blocker_id = o.user_id and b.blocked_id = $2)
              where o.conversation_id = c.id and o.user_id <> $2 and ${isCurrent("o")}))
       and ($5::text is null or not exists (
             select 1 from message x where x.sender_id = $2 and x.client_message_id = $5))
    returning c.last_seq as seq, c.last_xid as xid
  ), members as (
    select coalesce(array_agg(user_id order by user_id), '{}') as ids from participant
     where conversation_id = $1 and ${isCurrent("participant")}
  ), m as (
    insert into message (id, conversation_id, seq, sender_id, kind, text, attachments,
                         client_message_id, created_at, xid)
    select $3, $1, c.seq, $2, $6, $7, $8::jsonb, $5, $4, c.xid from c
  ), r as (
    update participant set last_read_seq = c.seq, last_read_at = $4 from c
     where conversation_id = $1 and user_id = $2 and ${isCurrent("participant")}
  )
  select c.seq, members.ids as members from c, members`;
