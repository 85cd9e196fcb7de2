import { Migration } from "@mikro-orm/migrations";

/**
 * The message table is the notification relay's log, in place of an outbox row per send.
 * message.xid is the id of the transaction that wrote the message (pg_current_xact_id()), or for
 * a send the conversation's previous one (conversation.last_xid) when that is higher, so a
 * conversation's messages are in seq order in it. The relay reads messages in (xid,
 * conversation_id, seq) order after its cursor and below the horizon, the oldest transaction
 * still running, so a message committed late by a transaction that began early is never
 * skipped. participant.joined_seq and left_seq bound each membership in seqs, so the relay knows
 * who the members were when a message committed.
 */
export class Migration20261204000000_message_log extends Migration {
  override async up(): Promise<void> {
    // Existing messages: relayed already (xid 0, before the cursor), but for those whose outbox
    // event was still unsent (1, 2, … in the outbox's order, after it): they go out first.
    this.addSql(`alter table "message" add column "xid" xid8 not null default '0';`);
    this.addSql(`alter table "message" alter column "xid" set default pg_current_xact_id();`);
    this.addSql(`update "message" m set "xid" = o."rank"::text::xid8 from (
      select ("payload"->>'messageId')::uuid as "id", row_number() over (order by "position") as "rank"
        from "outbox" where "sent_at" is null) o where m."id" = o."id";`);
    this.addSql(`create index "message_xid_idx" on "message" ("xid", "conversation_id", "seq");`);
    this.addSql(`alter table "conversation" add column "last_xid" xid8 not null default '0';`);
    this.addSql(`create table "relay_cursor" (
      "name" text not null,
      "xid" xid8 not null,
      "conversation_id" uuid not null,
      "seq" integer not null,
      constraint "relay_cursor_pkey" primary key ("name"));`);
    this.addSql(`insert into "relay_cursor" ("name", "xid", "conversation_id", "seq")
      values ('notifications', '0', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 2147483647);`);

    this.addSql(`alter table "participant" add column "joined_seq" integer not null default 0;`);
    this.addSql(`alter table "participant" add column "left_seq" integer null;`);
    // Memberships before this: from the start, and until the conversation's newest seq then.
    this.addSql(`update "participant" p set "left_seq" = c."last_seq" from "conversation" c
      where c."id" = p."conversation_id" and p."left_at" is not null;`);
    this.addSql(`drop table "outbox";`);
  }

  override async down(): Promise<void> {
    this.addSql(`create table "outbox" (
      "id" uuid not null,
      "position" bigint generated always as identity,
      "topic" text not null,
      "channel" text not null,
      "payload" jsonb not null,
      "created_at" timestamptz(3) not null default now(),
      "sent_at" timestamptz(3) null,
      "offline_recipient_ids" text[] null,
      constraint "outbox_pkey" primary key ("id"));`);
    this.addSql(
      `create index "outbox_unsent_idx" on "outbox" ("position") where "sent_at" is null;`,
    );
    this.addSql(
      `create index "outbox_sent_idx" on "outbox" ("sent_at") where "sent_at" is not null;`,
    );
    this.addSql(`alter table "participant" drop column "left_seq";`);
    this.addSql(`alter table "participant" drop column "joined_seq";`);
    this.addSql(`drop table "relay_cursor";`);
    this.addSql(`alter table "conversation" drop column "last_xid";`);
    this.addSql(`drop index "message_xid_idx";`);
    this.addSql(`alter table "message" drop column "xid";`);
  }
}
