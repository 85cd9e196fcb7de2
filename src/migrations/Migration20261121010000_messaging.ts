import { Migration } from "@mikro-orm/migrations";

/** Structured SYSTEM messages, full-text search over message text, and the members-by-user index. */
export class Migration20261121010000_messaging extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "message" add column "system_event" jsonb null;`);
    // 'simple' (no stemming): chats mix languages; the expression must match the search query's.
    this.addSql(`create index "message_text_search_idx" on "message"
      using gin (to_tsvector('simple', coalesce("text", ''))) where "deleted_at" is null;`);
    this.addSql(`create index "participant_current_user_idx" on "participant" ("user_id")
      where "left_at" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "participant_current_user_idx";`);
    this.addSql(`drop index if exists "message_text_search_idx";`);
    this.addSql(`alter table "message" drop column if exists "system_event";`);
  }
}
