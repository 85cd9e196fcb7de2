import type { EntityManager } from "@mikro-orm/postgresql";
import type { Viewer } from "../auth/viewer";
import { insertBareUsers, upsertViewer } from "./user.queries";

/** Remembers which (user, name, roles) rows are already current, to skip the write per request. */
const SEEN_LIMIT = 10_000;

export class UserService {
  private readonly seen = new Map<string, string>();

  /** Creates the viewer's app_user row, or refreshes its name and roles when the token changed them. */
  async ensureUser(em: EntityManager, viewer: Viewer): Promise<void> {
    const fingerprint = JSON.stringify([viewer.displayName, viewer.roles]);
    if (this.seen.get(viewer.id) === fingerprint) return;
    await upsertViewer(em, viewer);
    if (this.seen.size >= SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(viewer.id, fingerprint);
  }

  /** Creates rows for users known only by id (someone messaged before they ever signed in). */
  async ensureUsersExist(em: EntityManager, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await insertBareUsers(em, ids);
  }
}
