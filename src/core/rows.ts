import type { EntityClass, EntityDictionary, EntityManager } from "@mikro-orm/postgresql";

/**
 * Managed entities from one hand-written statement. On the per-request loaders this replaces
 * em.find, whose query building costs about 0.4 ms of CPU a call on this stack (measured against
 * em.execute + em.map); hydration and the identity map are the same.
 */
export async function selectEntities<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  const rows = await em.execute<Array<EntityDictionary<T>>>(sql, params);
  return rows.map((row) => em.map(entity, row));
}
