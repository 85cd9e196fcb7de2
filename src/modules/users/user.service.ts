import type { EntityManager } from "@mikro-orm/postgresql";
import type { Viewer } from "../auth/viewer";

/** Remembers which (user, name, roles) rows are already current, to skip the write per request. */
const SEEN_LIMIT = 10_000;

export class UserService {
  private readonly seen = new Map<string, string>();

  /** Creates the viewer's app_user row, or refreshes its name and roles when the token changed them. */
  async ensureUser(em: EntityManager, viewer: Viewer): Promise<void> {
    const fingerprint = JSON.stringify([viewer.displayName, viewer.roles]);
    if (this.seen.get(viewer.id) === fingerprint) return;
    await em.execute(
      `insert into app_user (id, display_name, roles) values (?, ?, array(select jsonb_array_elements_text(?::jsonb)))
       on conflict (id) do update set display_name = excluded.display_name, roles = excluded.roles
       where app_user.display_name is distinct from excluded.display_name
          or app_user.roles is distinct from excluded.roles`,
      [viewer.id, viewer.displayName, JSON.stringify(viewer.roles)],
    );
    if (this.seen.size >= SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(viewer.id, fingerprint);
  }

  /** Creates rows for users known only by id (someone messaged before they ever signed in). */
  async ensureUsersExist(em: EntityManager, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await em.execute(
      `insert into app_user (id) select value from jsonb_array_elements_text(?::jsonb)
       on conflict (id) do nothing`,
      [JSON.stringify(ids)],
    );
  }
}
