import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import { selectEntities } from "../../core/rows";
import { Conversation } from "./conversation.entity";
import type { Participant } from "./participant.entity";
import {
  countUnread,
  selectContacts,
  selectCurrentParticipants,
  selectMemberships,
} from "./participant.queries";

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
      const rows = await selectMemberships(em, ids, viewerId);
      const byId = new Map(rows.map((p) => [p.conversationId, p]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** Current participants, oldest member first. */
    participants: new DataLoader<string, Participant[]>(async (ids) => {
      const rows = await selectCurrentParticipants(em, ids);
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
      const found = await selectContacts(em, viewerId, ids);
      return ids.map((id) => found.has(id));
    }),

    /** The viewer's unread messages (participant.queries.ts has the rule). */
    unreadCount: new DataLoader<string, number>(async (ids) => {
      if (!viewerId) return ids.map(() => 0);
      const byId = await countUnread(em, viewerId, ids);
      return ids.map((id) => byId.get(id) ?? 0);
    }),
  };
}

export type ConversationLoaders = ReturnType<typeof createConversationLoaders>;
