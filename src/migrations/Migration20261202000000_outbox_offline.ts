import { Migration } from "@mikro-orm/migrations";

/**
 * Who was offline when an event was relayed, beside its payload: marking a row sent then writes
 * a small array, not the payload again (for a large group the payload is most of the row, and
 * rewriting it rewrote its TOAST). The payload stays the event as committed.
 */
export class Migration20261202000000_outbox_offline extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "outbox" add column "offline_recipient_ids" text[] null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "outbox" drop column "offline_recipient_ids";`);
  }
}
