import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import { User } from "./user.entity";

export function createUserLoaders(em: EntityManager) {
  return {
    user: new DataLoader<string, User | null>(async (ids) => {
      const users = await em.find(User, { id: { $in: [...ids] } });
      const byId = new Map(users.map((u) => [u.id, u]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
