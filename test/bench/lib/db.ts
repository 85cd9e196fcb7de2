import { randomUUID } from "node:crypto";
import { Client } from "pg";

/** The bench's own database next to the machine's others; dropped when the run ends. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

/** Seeds rows straight into the service's tables (the service migrated them on start). */
export class Seeder {
  private constructor(readonly client: Client) {}

  static async connect(url: string): Promise<Seeder> {
    const client = new Client({ connectionString: url });
    await client.connect();
    return new Seeder(client);
  }

  async users(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 5_000) {
      const chunk = ids.slice(i, i + 5_000);
      await this.client.query(
        `insert into app_user (id, display_name) select id, id from unnest($1::text[]) as id
         on conflict (id) do nothing`,
        [chunk],
      );
    }
  }

  /** A GROUP conversation with these members (the first is OWNER) and no messages yet. */
  async group(members: string[], title = "Bench group"): Promise<string> {
    const id = randomUUID();
    await this.client.query(
      `insert into conversation (id, kind, title, last_seq) values ($1, 'GROUP', $2, 0)`,
      [id, title],
    );
    await this.client.query(
      `insert into participant (conversation_id, user_id, role)
       select $1, u, case when ord = 1 then 'OWNER'::participant_role else 'MEMBER' end
         from unnest($2::text[]) with ordinality as t(u, ord)`,
      [id, members],
    );
    return id;
  }

  /**
   * One DIRECT conversation per pair (both MEMBERs, direct_key as the service computes it for no
   * subject), no messages yet; their ids in the pairs' order.
   */
  async direct(pairs: Array<[string, string]>): Promise<string[]> {
    const ids = pairs.map(() => randomUUID());
    const keys = pairs.map((pair) => JSON.stringify([...[...pair].sort(), null]));
    await this.client.query(
      `insert into conversation (id, kind, direct_key, last_seq)
       select id, 'DIRECT', key, 0 from unnest($1::uuid[], $2::text[]) as t(id, key)`,
      [ids, keys],
    );
    await this.client.query(
      `insert into participant (conversation_id, user_id, role)
       select id, u, 'MEMBER' from unnest($1::uuid[], $2::text[], $3::text[]) as t(id, a, b),
              lateral (values (a), (b)) as m(u)`,
      [ids, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
    return ids;
  }

  /**
   * `count` messages with seq 1..count, written by set-based SQL, and the conversation's last_seq.
   * Seeded messages are history: xid 0 puts them behind the notification relay's cursor.
   */
  async history(conversationId: string, senderId: string, count: number): Promise<void> {
    await this.client.query(
      `insert into message (id, conversation_id, seq, sender_id, kind, text, attachments, created_at, xid)
       select gen_random_uuid(), $1, g, $2, 'TEXT', 'History message number ' || g, '[]',
              now() - make_interval(secs => $3 - g), '0'
         from generate_series(1, $3::int) g`,
      [conversationId, senderId, count],
    );
    await this.client.query(
      `update conversation c set last_seq = $2, last_activity_at = now(),
              last_message_id = (select id from message where conversation_id = $1 and seq = $2)
        where c.id = $1`,
      [conversationId, count],
    );
  }

  /**
   * `count` two-person conversations of `userId`, each with `messages` messages and distinct
   * activity times, in set-based SQL.
   */
  async inbox(userId: string, count: number, messages: number): Promise<void> {
    const others = Array.from({ length: count }, (_, i) => `${userId}-peer-${i}`);
    await this.users(others);
    await this.client.query(
      `with c as (
         insert into conversation (id, kind, title, last_seq, last_activity_at)
         select gen_random_uuid(), 'GROUP', 'Inbox ' || g, $3, now() - make_interval(secs => g)
           from generate_series(1, $2::int) g
         returning id, title)
       , p as (
         insert into participant (conversation_id, user_id, role, last_read_seq)
         select c.id, $1, 'OWNER'::participant_role, 1 from c
         union all
         select c.id, $1 || '-peer-' || (split_part(c.title, ' ', 2)::int - 1), 'MEMBER'::participant_role, 0 from c
         returning conversation_id)
       insert into message (id, conversation_id, seq, sender_id, kind, text, attachments, xid)
       select gen_random_uuid(), c.id, s, $1 || '-peer-' || (split_part(c.title, ' ', 2)::int - 1),
              'TEXT', 'Inbox message ' || s, '[]', '0'
         from c, generate_series(1, $3::int) s`,
      [userId, count, messages],
    );
    await this.client.query(
      `update conversation c set last_message_id = m.id
         from message m, participant p
        where p.user_id = $1 and c.id = p.conversation_id
          and m.conversation_id = c.id and m.seq = c.last_seq`,
      [userId],
    );
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
