import { Migration } from "@mikro-orm/migrations";

/**
 * The inbox feed: every change a member of a conversation may see carries the id of the
 * transaction that made it (xid8), so one cursor over (xid, rank, conversation, key) orders
 * everything of every conversation of a user, and a reader that stops below the horizon (the
 * oldest transaction still running) never skips a change committed late by a transaction that
 * began early. Nothing is written per recipient: a message is its row (message.xid), an edit or
 * delete moves message.changed_xid, a read or delivery position and the user's own conversation
 * state move their participant row's read_xid, delivered_xid and state_xid, a join or leave its
 * joined_xid or left_xid, and a title or membership change conversation.updated_xid.
 * participant.changed_xid is the newest of them, indexed, so a sync reads the participant rows
 * that changed, not every member of every conversation.
 *
 * Also the per-user state of a conversation (muted, muted_until, archived_seq, pinned_at) and the
 * delivery position (last_delivered_seq).
 */
export class Migration20261206000000_inbox extends Migration {
  override async up(): Promise<void> {
    // Rows from before: in the past of every cursor ('0'), then the current transaction's id.
    this.addSql(`alter table "participant"
      add column "last_delivered_seq" integer not null default 0,
      add column "last_delivered_at" timestamptz(3) null,
      add column "muted" boolean not null default false,
      add column "muted_until" timestamptz(3) null,
      add column "archived_seq" integer null,
      add column "pinned_at" timestamptz(3) null,
      add column "state_at" timestamptz(3) null,
      add column "joined_xid" xid8 not null default '0',
      add column "left_xid" xid8 null,
      add column "read_xid" xid8 null,
      add column "delivered_xid" xid8 null,
      add column "state_xid" xid8 null,
      add column "changed_xid" xid8 not null default '0';`);
    this.addSql(`alter table "participant"
      alter column "joined_xid" set default pg_current_xact_id(),
      alter column "changed_xid" set default pg_current_xact_id();`);
    this.addSql(`update "participant" set "last_delivered_seq" = "last_read_seq";`);
    this.addSql(
      `create index "participant_changed_idx" on "participant" ("conversation_id", "changed_xid");`,
    );

    this.addSql(`alter table "conversation"
      add column "updated_xid" xid8 not null default '0',
      add column "updated_at" timestamptz(3) null;`);

    this.addSql(`alter table "message"
      add column "changed_xid" xid8 null,
      add column "changed_at" timestamptz(3) null;`);
    this.addSql(`create index "message_log_idx" on "message" ("conversation_id", "xid");`);
    this.addSql(`create index "message_changed_idx" on "message" ("conversation_id", "changed_xid")
      where "changed_xid" is not null;`);

    // A join (a row inserted, or left_at cleared) and a leave, whichever code makes them.
    this.addSql(`create function participant_membership_xid() returns trigger
      language plpgsql as $$
      begin
        if new.left_at is null then
          new.joined_xid := pg_current_xact_id();
          new.left_xid := null;
        else
          new.left_xid := pg_current_xact_id();
        end if;
        new.changed_xid := pg_current_xact_id();
        return new;
      end $$;`);
    this.addSql(`create trigger participant_membership_xid
      before update of left_at on participant
      for each row when (old.left_at is distinct from new.left_at)
      execute function participant_membership_xid();`);

    // What every member sees as CONVERSATION_UPDATED: the title, the subject, who is in it
    // (member_epoch, moved by its own triggers) and their roles.
    this.addSql(`create function conversation_updated_xid() returns trigger
      language plpgsql as $$
      begin
        new.updated_xid := pg_current_xact_id();
        new.updated_at := now();
        return new;
      end $$;`);
    this.addSql(`create trigger conversation_updated_xid
      before update of title, subject, member_epoch on conversation
      for each row when (old.title is distinct from new.title
                         or old.subject is distinct from new.subject
                         or old.member_epoch is distinct from new.member_epoch)
      execute function conversation_updated_xid();`);
    this.addSql(`create function participant_role_xid() returns trigger
      language plpgsql as $$
      begin
        update conversation set updated_xid = pg_current_xact_id(), updated_at = now()
         where id = new.conversation_id;
        return null;
      end $$;`);
    this.addSql(`create trigger participant_role_xid
      after update of role on participant
      for each row when (old.role is distinct from new.role)
      execute function participant_role_xid();`);

    // An edit or a delete: MESSAGE_UPDATED at the transaction that made it.
    this.addSql(`create function message_changed_xid() returns trigger
      language plpgsql as $$
      begin
        new.changed_xid := pg_current_xact_id();
        new.changed_at := now();
        return new;
      end $$;`);
    this.addSql(`create trigger message_changed_xid
      before update of text, attachments, edited_at, deleted_at on message
      for each row when (old.text is distinct from new.text
                         or old.attachments is distinct from new.attachments
                         or old.edited_at is distinct from new.edited_at
                         or old.deleted_at is distinct from new.deleted_at)
      execute function message_changed_xid();`);

    // SYSTEM messages are written by the unit of work under the conversation's row lock: like a
    // send, they take the conversation's log position, so its messages stay in seq order in it.
    this.addSql(`create function message_system_xid() returns trigger
      language plpgsql as $$
      begin
        update conversation set last_xid = greatest(last_xid, pg_current_xact_id())
         where id = new.conversation_id returning last_xid into new.xid;
        return new;
      end $$;`);
    this.addSql(`create trigger message_system_xid
      before insert on message
      for each row when (new.kind = 'SYSTEM')
      execute function message_system_xid();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists message_system_xid on message;`);
    this.addSql(`drop function if exists message_system_xid();`);
    this.addSql(`drop trigger if exists message_changed_xid on message;`);
    this.addSql(`drop function if exists message_changed_xid();`);
    this.addSql(`drop trigger if exists participant_role_xid on participant;`);
    this.addSql(`drop function if exists participant_role_xid();`);
    this.addSql(`drop trigger if exists conversation_updated_xid on conversation;`);
    this.addSql(`drop function if exists conversation_updated_xid();`);
    this.addSql(`drop trigger if exists participant_membership_xid on participant;`);
    this.addSql(`drop function if exists participant_membership_xid();`);
    this.addSql(`drop index if exists "message_changed_idx";`);
    this.addSql(`drop index if exists "message_log_idx";`);
    this.addSql(`alter table "message" drop column "changed_xid", drop column "changed_at";`);
    this.addSql(`alter table "conversation" drop column "updated_xid", drop column "updated_at";`);
    this.addSql(`drop index if exists "participant_changed_idx";`);
    this.addSql(`alter table "participant"
      drop column "last_delivered_seq", drop column "last_delivered_at", drop column "muted",
      drop column "muted_until", drop column "archived_seq", drop column "pinned_at",
      drop column "state_at", drop column "joined_xid", drop column "left_xid",
      drop column "read_xid", drop column "delivered_xid", drop column "state_xid",
      drop column "changed_xid";`);
  }
}
