import { Migration } from "@mikro-orm/migrations";

/**
 * conversation.member_epoch moves with every change of who the current participants are (a row
 * inserted, left_at set or cleared), whichever code makes it. sendMessage's single statement
 * reads the members as they stood when it began; comparing the epoch it read with the one of
 * the row it locked tells it whether a membership change committed in between (then it falls
 * back to lock-then-read).
 */
export class Migration20261201000000_member_epoch extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "conversation" add column "member_epoch" integer not null default 0;`);
    this.addSql(`create function conversation_member_epoch_inserted() returns trigger
      language plpgsql as $$
      begin
        update conversation set member_epoch = member_epoch + 1
         where id in (select distinct conversation_id from added);
        return null;
      end $$;`);
    this.addSql(`create function conversation_member_epoch_updated() returns trigger
      language plpgsql as $$
      begin
        update conversation set member_epoch = member_epoch + 1 where id = new.conversation_id;
        return null;
      end $$;`);
    this.addSql(`create trigger participant_member_epoch_inserted
      after insert on participant referencing new table as added
      for each statement execute function conversation_member_epoch_inserted();`);
    this.addSql(`create trigger participant_member_epoch_updated
      after update of left_at on participant
      for each row when (old.left_at is distinct from new.left_at)
      execute function conversation_member_epoch_updated();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists participant_member_epoch_updated on participant;`);
    this.addSql(`drop trigger if exists participant_member_epoch_inserted on participant;`);
    this.addSql(`drop function if exists conversation_member_epoch_updated();`);
    this.addSql(`drop function if exists conversation_member_epoch_inserted();`);
    this.addSql(`alter table "conversation" drop column if exists "member_epoch";`);
  }
}
