import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { SeqWindow } from "../../core/pagination";
import { selectEntities } from "../../core/rows";
import { Message } from "./message.entity";

export interface MessagePageKey extends SeqWindow {
  conversationId: string;
}

/** Loaders for one request; authorisation happens before a key is loaded. */
export function createMessageLoaders(em: EntityManager) {
  return {
    message: new DataLoader<string, Message | null>(async (ids) => {
      const rows = await selectEntities(em, Message, "select * from message where id in (?)", [
        [...ids],
      ]);
      const byId = new Map(rows.map((m) => [m.id, m]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /**
     * Keyset pages of several conversations in one statement per direction: each key becomes a row
     * of a JSON recordset, joined laterally to its own index range scan on (conversation_id, seq).
     * Each page holds up to limit + 1 rows, so the caller can tell whether more exist.
     */
    page: new DataLoader<MessagePageKey, Message[], string>(
      async (keys) => {
        const results: Message[][] = keys.map(() => []);
        for (const backward of [false, true]) {
          const batch = keys
            .map((key, idx) => ({ key, idx }))
            .filter(({ key }) => key.backward === backward);
          if (!batch.length) continue;
          const recordset = batch.map(({ key, idx }) => ({
            idx,
            cid: key.conversationId,
            lo: key.afterSeq,
            hi: key.beforeSeq,
            lim: key.limit + 1,
          }));
          const rows = await em.execute<Array<Record<string, unknown> & { _idx: number }>>(
            `select k.idx as _idx, m.*
               from jsonb_to_recordset(?::jsonb) as k(idx int, cid uuid, lo int, hi int, lim int)
               cross join lateral (
                 select * from message
                  where conversation_id = k.cid and seq > k.lo and seq < k.hi
                  order by seq ${backward ? "desc" : "asc"}
                  limit k.lim) m
              order by k.idx, m.seq ${backward ? "desc" : "asc"}`,
            [JSON.stringify(recordset)],
          );
          for (const { _idx, ...row } of rows) results[_idx].push(em.map(Message, row));
        }
        return results;
      },
      {
        cacheKeyFn: (k) =>
          `${k.conversationId}:${k.afterSeq}:${k.beforeSeq}:${k.limit}:${k.backward ? 1 : 0}`,
      },
    ),
  };
}

export type MessageLoaders = ReturnType<typeof createMessageLoaders>;
