import { Migration } from "@mikro-orm/migrations";

/** Users, conversations, participants and messages, with the keys that carry the promises. */
export class Migration20261121000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "conversation_kind" as enum ('DIRECT', 'GROUP');`);
    this.addSql(`create type "participant_role" as enum ('OWNER', 'ADMIN', 'MEMBER');`);
    this.addSql(`create type "message_kind" as enum ('TEXT', 'IMAGE', 'FILE', 'SYSTEM');`);

    this.addSql(`create table "app_user" (
      "id" text not null,
      "display_name" text null,
      "roles" text[] not null default '{}',
      "created_at" timestamptz(3) not null default now(),
      "last_seen_at" timestamptz(3) null,
      constraint "app_user_pkey" primary key ("id"));`);

    this.addSql(`create table "conversation" (
      "id" uuid not null,
      "kind" "conversation_kind" not null,
      "title" text null,
      "subject" text null,
      "direct_key" text null,
      "last_seq" int not null default 0,
      "last_message_id" uuid null,
      "created_at" timestamptz(3) not null default now(),
      "last_activity_at" timestamptz(3) not null default now(),
      constraint "conversation_pkey" primary key ("id"),
      constraint "conversation_direct_key_unique" unique ("direct_key"));`);
    // The inbox: a user's participant rows joined to conversations by newest activity.
    this.addSql(
      `create index "conversation_activity_idx" on "conversation" ("last_activity_at", "id");`,
    );

    this.addSql(`create table "participant" (
      "conversation_id" uuid not null,
      "user_id" text not null,
      "role" "participant_role" not null default 'MEMBER',
      "joined_at" timestamptz(3) not null default now(),
      "left_at" timestamptz(3) null,
      "last_read_seq" int not null default 0,
      "last_read_at" timestamptz(3) null,
      constraint "participant_pkey" primary key ("conversation_id", "user_id"),
      constraint "participant_conversation_id_foreign" foreign key ("conversation_id")
        references "conversation" ("id") on update cascade on delete cascade,
      constraint "participant_user_id_foreign" foreign key ("user_id")
        references "app_user" ("id") on update cascade);`);
    this.addSql(
      `create index "participant_user_idx" on "participant" ("user_id", "conversation_id");`,
    );

    this.addSql(`create table "message" (
      "id" uuid not null,
      "conversation_id" uuid not null,
      "seq" int not null,
      "sender_id" text null,
      "kind" "message_kind" not null default 'TEXT',
      "text" text null,
      "attachments" jsonb not null default '[]',
      "client_message_id" text null,
      "created_at" timestamptz(3) not null default now(),
      "edited_at" timestamptz(3) null,
      "deleted_at" timestamptz(3) null,
      constraint "message_pkey" primary key ("id"),
      constraint "message_conversation_seq_unique" unique ("conversation_id", "seq"),
      constraint "message_sender_client_id_unique" unique ("sender_id", "client_message_id"),
      constraint "message_conversation_id_foreign" foreign key ("conversation_id")
        references "conversation" ("id") on update cascade on delete cascade,
      constraint "message_sender_id_foreign" foreign key ("sender_id")
        references "app_user" ("id") on update cascade on delete set null);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "message";`);
    this.addSql(`drop table if exists "participant";`);
    this.addSql(`drop table if exists "conversation";`);
    this.addSql(`drop table if exists "app_user";`);
    this.addSql(`drop type if exists "message_kind";`);
    this.addSql(`drop type if exists "participant_role";`);
    this.addSql(`drop type if exists "conversation_kind";`);
  }
}
