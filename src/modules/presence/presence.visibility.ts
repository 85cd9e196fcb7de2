import type { EntityManager } from "@mikro-orm/postgresql";
import { isCurrent } from "../conversations/participant.queries";

/**
 * Who may see whose presence: the viewer, and users sharing a current conversation with them
 * with no block either way. Returns the visible ones among userIds with their last_seen_at. It
 * reads the participant and block tables on purpose: one statement, with their rules reused.
 */
export async function visibleUsers(
  em: EntityManager,
  viewerId: string,
  userIds: readonly string[],
): Promise<Map<string, Date | null>> {
  if (!userIds.length) return new Map();
  const rows = await em.execute<{ id: string; last_seen_at: Date | null }[]>(
    `select u.id, u.last_seen_at from app_user u
      where u.id in (select value from jsonb_array_elements_text(?::jsonb))
        and (u.id = ? or (exists (
          select 1 from participant mine
            join participant theirs on theirs.conversation_id = mine.conversation_id
           where mine.user_id = ? and ${isCurrent("mine")}
             and theirs.user_id = u.id and ${isCurrent("theirs")})
          and not exists (
          select 1 from block b
           where (b.blocker_id = ? and b.blocked_id = u.id)
              or (b.blocker_id = u.id and b.blocked_id = ?))))`,
    [JSON.stringify(userIds), viewerId, viewerId, viewerId, viewerId],
  );
  return new Map(rows.map((r) => [r.id, r.last_seen_at ? new Date(r.last_seen_at) : null]));
}

/** Everyone sharing a current conversation with the viewer (blocks are applied by visibleUsers). */
export async function contacts(em: EntityManager, viewerId: string): Promise<string[]> {
  const rows = await em.execute<{ user_id: string }[]>(
    `select distinct theirs.user_id from participant mine
       join participant theirs on theirs.conversation_id = mine.conversation_id
      where mine.user_id = ? and ${isCurrent("mine")} and ${isCurrent("theirs")}
        and theirs.user_id <> ?`,
    [viewerId, viewerId],
  );
  return rows.map((r) => r.user_id);
}
