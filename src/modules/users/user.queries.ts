import type { EntityManager } from "@mikro-orm/postgresql";
import type { Viewer } from "../auth/viewer";

/*
 * The app_user table's statements, written once: other modules call these rather than write to
 * it. (The per-request read is the user loader, user.loaders.ts.)
 */

/** Creates the viewer's row, or refreshes its name and roles when the token changed them. */
export async function upsertViewer(em: EntityManager, viewer: Viewer): Promise<void> {
  await em.execute(
    `insert into app_user (id, display_name, roles) values (?, ?, array(select jsonb_array_elements_text(?::jsonb)))
       on conflict (id) do update set display_name = excluded.display_name, roles = excluded.roles
       where app_user.display_name is distinct from excluded.display_name
          or app_user.roles is distinct from excluded.roles`,
    [viewer.id, viewer.displayName, JSON.stringify(viewer.roles)],
  );
}

/** Bare rows for users known only by id (someone messaged before they ever signed in). */
export async function insertBareUsers(em: EntityManager, ids: string[]): Promise<void> {
  await em.execute(
    `insert into app_user (id) select value from jsonb_array_elements_text(?::jsonb)
       on conflict (id) do nothing`,
    [JSON.stringify(ids)],
  );
}

/**
 * Runs `statement` (its parameters after the user's id) in the same round trip as a bare row for
 * userId: a foreign key to the user is checked at the statement's end, when the row exists.
 */
export async function executeWithUser(
  em: EntityManager,
  userId: string,
  statement: string,
  params: unknown[],
): Promise<void> {
  await em.execute(
    `with u as (insert into app_user (id) values (?) on conflict (id) do nothing)
       ${statement}`,
    [userId, ...params],
  );
}

/** Sets last_seen_at of these users, in one statement. */
export async function markLastSeen(
  em: EntityManager,
  userIds: string[],
  lastSeenAt: Date,
): Promise<void> {
  await em.execute(
    `update app_user set last_seen_at = ?
          where id in (select value from jsonb_array_elements_text(?::jsonb))`,
    [lastSeenAt, JSON.stringify(userIds)],
  );
}

/** The display names of those of userIds who have a row (null until the user signs in). */
export async function selectDisplayNames(
  em: EntityManager,
  userIds: string[],
): Promise<Map<string, string | null>> {
  const rows = await em.execute<{ id: string; display_name: string | null }[]>(
    `select id, display_name from app_user
      where id in (select value from jsonb_array_elements_text(?::jsonb))`,
    [JSON.stringify(userIds)],
  );
  return new Map(rows.map((r) => [r.id, r.display_name]));
}
