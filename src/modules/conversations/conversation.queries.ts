import type { EntityManager } from "@mikro-orm/postgresql";
import { Conversation } from "./conversation.entity";
import { isCurrent } from "./participant.queries";

/*
 * The conversation table's reads, for this module and for the others (which do not query it
 * themselves). The row lock is conversation.tx.ts; the per-request loader, conversation.loaders.ts.
 */

/** A conversation that exists (a row referencing it was just read). */
export function getConversation(em: EntityManager, id: string): Promise<Conversation> {
  return em.findOneOrFail(Conversation, { id });
}

/** The DIRECT conversation of a (pair, subject), or null. */
export function findDirect(em: EntityManager, directKey: string): Promise<Conversation | null> {
  return em.findOne(Conversation, { directKey });
}

/** Which inbox page to read: after a keyset position, matching a LIKE pattern, `limit` items. */
export interface InboxPage {
  after: [Date, string] | null;
  pattern: string | null;
  limit: number;
}

/**
 * The user's current conversations, most recent activity first, in one statement; `more` when
 * there are others after these. The search joins app_user (the users module's table) for member
 * names on purpose: one statement, not a second query per page.
 */
export async function selectInbox(
  em: EntityManager,
  userId: string,
  page: InboxPage,
): Promise<{ items: Conversation[]; more: boolean }> {
  const params: unknown[] = [userId];
  let where = "";
  if (page.after) {
    where += " and (c.last_activity_at, c.id) < (?, ?)";
    params.push(...page.after);
  }
  if (page.pattern) {
    where += ` and (c.title ilike ? or c.subject ilike ? or exists (
        select 1 from participant p2 join app_user u on u.id = p2.user_id
         where p2.conversation_id = c.id and ${isCurrent("p2")} and u.display_name ilike ?))`;
    params.push(page.pattern, page.pattern, page.pattern);
  }
  params.push(page.limit + 1);
  const rows = await em.execute(
    `select c.* from participant p join conversation c on c.id = p.conversation_id
        where p.user_id = ? and ${isCurrent("p")}${where}
        order by c.last_activity_at desc, c.id desc limit ?`,
    params,
  );
  const items = rows.slice(0, page.limit).map((row) => em.map(Conversation, row));
  return { items, more: rows.length > page.limit };
}
