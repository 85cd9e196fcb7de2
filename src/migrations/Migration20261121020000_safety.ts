import { Migration } from "@mikro-orm/migrations";

/** Blocks between users and reports to moderators. */
export class Migration20261121020000_safety extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "block" (
      "blocker_id" text not null references "app_user" ("id") on update cascade on delete cascade,
      "blocked_id" text not null references "app_user" ("id") on update cascade on delete cascade,
      "created_at" timestamptz(3) not null default now(),
      constraint "block_pkey" primary key ("blocker_id", "blocked_id"));`);
    // "Is there a block in either direction" looks up both columns.
    this.addSql(`create index "block_blocked_idx" on "block" ("blocked_id", "blocker_id");`);

    this.addSql(`create type "report_reason" as enum
      ('SPAM', 'HARASSMENT', 'HATE', 'SEXUAL_CONTENT', 'VIOLENCE', 'SCAM', 'OTHER');`);
    this.addSql(`create type "report_status" as enum ('OPEN', 'RESOLVED', 'DISMISSED');`);
    this.addSql(`create table "report" (
      "id" uuid not null,
      "reporter_id" text not null references "app_user" ("id") on update cascade,
      "message_id" uuid null references "message" ("id") on update cascade on delete set null,
      "reported_user_id" text null references "app_user" ("id") on update cascade,
      "reason" "report_reason" not null,
      "details" text null,
      "status" "report_status" not null default 'OPEN',
      "created_at" timestamptz(3) not null default now(),
      "resolved_by" text null references "app_user" ("id") on update cascade,
      "resolved_at" timestamptz(3) null,
      constraint "report_pkey" primary key ("id"),
      constraint "report_target_check" check (("message_id" is null) <> ("reported_user_id" is null)));`);
    // One open report per reporter and target.
    this
      .addSql(`create unique index "report_open_message_unique" on "report" ("reporter_id", "message_id")
      where "status" = 'OPEN' and "message_id" is not null;`);
    this
      .addSql(`create unique index "report_open_user_unique" on "report" ("reporter_id", "reported_user_id")
      where "status" = 'OPEN' and "reported_user_id" is not null;`);
    this.addSql(`create index "report_queue_idx" on "report" ("status", "created_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "report";`);
    this.addSql(`drop type if exists "report_status";`);
    this.addSql(`drop type if exists "report_reason";`);
    this.addSql(`drop table if exists "block";`);
  }
}
