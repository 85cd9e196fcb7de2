import type { EntityManager } from "@mikro-orm/postgresql";
import { selectEntities } from "../../core/rows";
import { Participant } from "./participant.entity";

/*
 * The participant table's rules, written once. A participant is current until they leave or are
 * removed: the row stays, with left_at set, and only current participants read a conversation.
 */

/** SQL: the participant row aliased `p` is a current participant. */
export const isCurrent = (p: string): string => `${p}.left_at is null`;

/** The same rule for a participant row already loaded. */
export const isCurrentRow = (p: Participant): boolean => !p.leftAt;

/** Ids of the current participants: the audience of an event committed with this transaction. */
export async function currentMembers(em: EntityManager, conversationId: string): Promise<string[]> {
  const rows = await em.execute<{ user_id: string }[]>(
    `select user_id from participant where conversation_id = ? and ${isCurrent("participant")}`,
    [conversationId],
  );
  return rows.map((r) => r.user_id);
}

/** The user's current participant row in the conversation, or null. */
export function findCurrent(
  em: EntityManager,
  conversationId: string,
  userId: string,
): Promise<Participant | null> {
  return em.findOne(Participant, { conversationId, userId, leftAt: null });
}

/** The current participants but one, oldest member first (who inherits ownership). */
export function findOthersOldestFirst(
  em: EntityManager,
  conversationId: string,
  exceptUserId: string,
): Promise<Participant[]> {
  return em.find(
    Participant,
    { conversationId, leftAt: null, userId: { $ne: exceptUserId } },
    { orderBy: { joinedAt: "asc", userId: "asc" } },
  );
}

/** The user's current participant rows among these conversations. */
export function selectMemberships(
  em: EntityManager,
  conversationIds: readonly string[],
  userId: string,
): Promise<Participant[]> {
  return selectEntities(
    em,
    Participant,
    `select * from participant
      where conversation_id in (?) and user_id = ? and ${isCurrent("participant")}`,
    [[...conversationIds], userId],
  );
}

/** The current participants of these conversations, oldest member first. */
export function selectCurrentParticipants(
  em: EntityManager,
  conversationIds: readonly string[],
): Promise<Participant[]> {
  return selectEntities(
    em,
    Participant,
    `select * from participant where conversation_id in (?) and ${isCurrent("participant")}
      order by joined_at, user_id`,
    [[...conversationIds]],
  );
}

/** Which of these users share a conversation with the viewer now, both current participants. */
export async function selectContacts(
  em: EntityManager,
  viewerId: string,
  userIds: readonly string[],
): Promise<Set<string>> {
  const rows = await em.execute<{ user_id: string }[]>(
    `select distinct theirs.user_id from participant mine
       join participant theirs on theirs.conversation_id = mine.conversation_id
      where mine.user_id = ? and ${isCurrent("mine")} and ${isCurrent("theirs")}
        and theirs.user_id in (select value from jsonb_array_elements_text(?::jsonb))`,
    [viewerId, JSON.stringify(userIds)],
  );
  return new Set(rows.map((r) => r.user_id));
}

/**
 * Brings a user who had left back into the conversation with everything so far read; false when
 * they are a current participant already (or never were one).
 */
export async function rejoin(
  em: EntityManager,
  conversationId: string,
  userId: string,
  lastSeq: number,
): Promise<boolean> {
  const rows = await em.execute<{ last_read_seq: number }[]>(
    `update participant set left_at = null, joined_at = now(), last_read_seq = ?
      where conversation_id = ? and user_id = ? and not (${isCurrent("participant")})
      returning last_read_seq`,
    [lastSeq, conversationId, userId],
  );
  return rows.length > 0;
}

/**
 * Moves the user's read position up to upToSeq (null: the newest message; never past it), only
 * forwards and only for a current participant; null when it did not move.
 */
export async function advanceReadPosition(
  em: EntityManager,
  conversationId: string,
  userId: string,
  upToSeq: number | null,
): Promise<{ last_read_seq: number; last_read_at: Date } | null> {
  const rows = await em.execute<{ last_read_seq: number; last_read_at: Date }[]>(
    `update participant p
            set last_read_seq = least(coalesce(?::int, c.last_seq), c.last_seq), last_read_at = now()
           from conversation c
          where c.id = p.conversation_id and p.conversation_id = ? and p.user_id = ?
            and ${isCurrent("p")}
            and p.last_read_seq < least(coalesce(?::int, c.last_seq), c.last_seq)
          returning p.last_read_seq, p.last_read_at`,
    [upToSeq, conversationId, userId, upToSeq],
  );
  return rows[0] ?? null;
}

/**
 * The unread rule: joins `message m` to what participant `p` has not read, the others' messages
 * after p's read position, not deleted and not SYSTEM notices. It reads the messages module's
 * table on purpose: the counts are one statement each, and the rule is written here once.
 */
const UNREAD_MESSAGES = `join message m on m.conversation_id = p.conversation_id
    and m.seq > p.last_read_seq and m.deleted_at is null and m.kind <> 'SYSTEM'
    and m.sender_id is distinct from p.user_id`;

/** Unread messages per conversation for the user; conversations with none are absent. */
export async function countUnread(
  em: EntityManager,
  userId: string,
  conversationIds: readonly string[],
): Promise<Map<string, number>> {
  const rows = await em.execute<{ conversation_id: string; unread: number }[]>(
    `select p.conversation_id, count(m.id)::int as unread
       from participant p ${UNREAD_MESSAGES}
      where p.user_id = ?
        and p.conversation_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
      group by p.conversation_id`,
    [userId, JSON.stringify(conversationIds)],
  );
  return new Map(rows.map((r) => [r.conversation_id, r.unread]));
}

/** Unread messages over all of the user's current conversations, in one statement. */
export async function countUnreadTotal(em: EntityManager, userId: string): Promise<number> {
  const [row] = await em.execute<{ total: number }[]>(
    `select count(m.id)::int as total
       from participant p ${UNREAD_MESSAGES}
      where p.user_id = ? and ${isCurrent("p")}`,
    [userId],
  );
  return row.total;
}
