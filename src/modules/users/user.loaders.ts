import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import { selectEntities } from "../../core/rows";
import { User } from "./user.entity";

export function createUserLoaders(em: EntityManager) {
  return {
    /** Every referenced id has a row (foreign keys); a bare User covers a row not yet visible. */
    user: new DataLoader<string, User>(async (ids) => {
      const users = await selectEntities(em, User, "select * from app_user where id in (?)", [
        [...ids],
      ]);
      const byId = new Map(users.map((u) => [u.id, u]));
      return ids.map((id) => byId.get(id) ?? Object.assign(new User(), { id }));
    }),
  };
}
