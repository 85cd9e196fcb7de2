import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import { selectEntities } from "../../core/rows";
import { Conversation } from "./conversation.entity";
import { Participant } from "./participant.entity";

/** Loaders for one request and one viewer; every per-conversation field goes through these. */
export function createConversationLoaders(em: EntityManager, viewerId: string | null) {
  return {
    conversation: new DataLoader<string, Conversation | null>(async (ids) => {
      const rows = await selectEntities(
        em,
        Conversation,
        "select * from conversation where id in (?)",
        [[...ids]],
      );
      const byId = new Map(rows.map((c) => [c.id, c]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** The viewer's own current participant row, or null when the viewer is not a member. */
    membership: new DataLoader<string, Participant | null>(async (ids) => {
      if (!viewerId) return ids.map(() => null);
      const rows = await selectEntities(
        em,
        Participant,
        `select * from participant
          where conversation_id in (?) and user_id = ? and left_at is null`,
        [[...ids], viewerId],
      );
      const byId = new Map(rows.map((p) => [p.conversationId, p]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** Current participants, oldest member first. */
    participants: new DataLoader<string, Participant[]>(async (ids) => {
      const rows = await selectEntities(
        em,
        Participant,
        `select * from participant where conversation_id in (?) and left_at is null
          order by joined_at, user_id`,
        [[...ids]],
      );
      const byId = new Map<string, Participant[]>(ids.map((id) => [id, []]));
      for (const p of rows) byId.get(p.conversationId)?.push(p);
      return ids.map((id) => byId.get(id) ?? []);
    }),

    /**
     * Whether the user shares a conversation with the viewer now, both current participants: who
     * the viewer may report and whose name a block list shows.
     */
    contact: new DataLoader<string, boolean>(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const rows = await em.execute<{ user_id: string }[]>(
        `select distinct theirs.user_id from participant mine
           join participant theirs on theirs.conversation_id = mine.conversation_id
          where mine.user_id = ? and mine.left_at is null and theirs.left_at is null
            and theirs.user_id in (select value from jsonb_array_elements_text(?::jsonb))`,
        [viewerId, JSON.stringify(ids)],
      );
      const found = new Set(rows.map((r) => r.user_id));
      return ids.map((id) => found.has(id));
    }),

    /** Others' messages after the viewer's read position, not deleted and not SYSTEM notices. */
    unreadCount: new DataLoader<string, number>(async (ids) => {
      if (!viewerId) return ids.map(() => 0);
      const rows = await em.execute<{ conversation_id: string; unread: number }[]>(
        `select p.conversation_id, count(m.id)::int as unread
           from participant p
           join message m on m.conversation_id = p.conversation_id and m.seq > p.last_read_seq
          where p.user_id = ?
            and p.conversation_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
            and m.deleted_at is null and m.kind <> 'SYSTEM'
            and m.sender_id is distinct from p.user_id
          group by p.conversation_id`,
        [viewerId, JSON.stringify(ids)],
      );
      const byId = new Map(rows.map((r) => [r.conversation_id, r.unread]));
      return ids.map((id) => byId.get(id) ?? 0);
    }),
  };
}

export type ConversationLoaders = ReturnType<typeof createConversationLoaders>;
