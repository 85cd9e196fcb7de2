import { randomUUID } from "node:crypto";
import type { Pool, PoolClient, QueryResult } from "pg";

/**
 * The peer's storage (procs/socketio-chat.ts): a send in one transaction under the conversation's
 * row lock (seq = last_seq + 1), membership in the same statement as the lock; prepared
 * statements through a `pg` pool. The floor's I/O mode (procs/graphql-floor.ts with DATABASE_URL)
 * stores in one statement instead. Counts its statements by name for the bench. Its messages go
 * into the service's message table with xid 0, below the service's notification relay's cursor:
 * that relay reads the table as its log and would otherwise do the peer's notifications too.
 */
const LOCK = {
  name: "w6-lock",
  text: `select c.last_seq from conversation c
          where c.id = $1 and exists (select 1 from participant p
            where p.conversation_id = c.id and p.user_id = $2 and p.left_at is null)
          for update of c`,
};
const WRITE = {
  name: "w6-write",
  text: `with m as (
           insert into message (id, conversation_id, seq, sender_id, kind, text, attachments, created_at, xid)
           values ($1, $2, $3, $4, 'TEXT', $5, '[]', $6, '0'))
         update conversation set last_seq = $3, last_message_id = $1, last_activity_at = $6
          where id = $2`,
};
// The least a gapless send can be: the row lock, the seq, the membership check and the insert in
// one statement (as the service's send statement, without its read position, blocks and member-epoch check).
const SEND_ONE = {
  name: "w6-send-one",
  text: `with c as (
           update conversation set last_seq = last_seq + 1, last_message_id = $1, last_activity_at = $5
            where id = $2 and exists (select 1 from participant p
              where p.conversation_id = $2 and p.user_id = $3 and p.left_at is null)
           returning last_seq)
         insert into message (id, conversation_id, seq, sender_id, kind, text, attachments, created_at, xid)
         select $1, $2, c.last_seq, $3, 'TEXT', $4, '[]', $5, '0' from c returning seq`,
};
const MEMBER = {
  name: "w6-member",
  text: `select 1 from participant where conversation_id = $1 and user_id = $2 and left_at is null`,
};

export interface Stored {
  id: string;
  seq: number;
  createdAt: Date;
}

export class PeerStore {
  statements = 0;
  readonly byStatement = new Map<string, number>();

  constructor(readonly pool: Pool) {}

  private query(
    db: Pool | PoolClient,
    statement: { name: string; text: string } | string,
    values?: unknown[],
  ): Promise<QueryResult> {
    this.statements++;
    const name = typeof statement === "string" ? statement : statement.name;
    this.byStatement.set(name, (this.byStatement.get(name) ?? 0) + 1);
    return typeof statement === "string"
      ? db.query(statement)
      : db.query({ name: statement.name, text: statement.text, values });
  }

  /** Whether the user is a current participant of the conversation. */
  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.query(this.pool, MEMBER, [conversationId, userId]);
    return Boolean(rowCount);
  }

  /** The same in one statement (SEND_ONE); null when the sender is no participant. */
  async storeInOneStatement(
    conversationId: string,
    userId: string,
    text: string,
  ): Promise<Stored | null> {
    const id = randomUUID();
    const createdAt = new Date();
    const { rows } = await this.query(this.pool, SEND_ONE, [
      id,
      conversationId,
      userId,
      text,
      createdAt,
    ]);
    return rows.length ? { id, seq: Number(rows[0].seq), createdAt } : null;
  }

  /** One transaction under the conversation's row lock; null when the sender is no participant. */
  async store(conversationId: string, userId: string, text: string): Promise<Stored | null> {
    let client: PoolClient | null = null;
    let message: Stored | null = null;
    try {
      client = await this.pool.connect();
      await this.query(client, "begin");
      const locked = await this.query(client, LOCK, [conversationId, userId]);
      if (locked.rows.length) {
        message = {
          id: randomUUID(),
          seq: Number(locked.rows[0].last_seq) + 1,
          createdAt: new Date(),
        };
        await this.query(client, WRITE, [
          message.id,
          conversationId,
          message.seq,
          userId,
          text,
          message.createdAt,
        ]);
        await this.query(client, "commit");
      } else {
        await this.query(client, "rollback");
      }
      client.release();
    } catch (error) {
      // A connection that failed mid-transaction is discarded, not returned to the pool.
      client?.release(true);
      throw error;
    }
    return message;
  }
}
