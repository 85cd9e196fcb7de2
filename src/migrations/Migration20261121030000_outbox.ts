import { Migration } from "@mikro-orm/migrations";

/** Events committed with the change that caused them, relayed to Redis, then marked sent. */
export class Migration20261121030000_outbox extends Migration {
  override async up(): Promise<void> {
    // position orders the relay: assigned at insert, after the conversation's row lock, so one
    // conversation's events are relayed in seq order.
    this.addSql(`create table "outbox" (
      "id" uuid not null,
      "position" bigint generated always as identity,
      "topic" text not null,
      "channel" text not null,
      "payload" jsonb not null,
      "created_at" timestamptz(3) not null default now(),
      "sent_at" timestamptz(3) null,
      constraint "outbox_pkey" primary key ("id"));`);
    this.addSql(
      `create index "outbox_unsent_idx" on "outbox" ("position") where "sent_at" is null;`,
    );
    this.addSql(
      `create index "outbox_sent_idx" on "outbox" ("sent_at") where "sent_at" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "outbox";`);
  }
}
