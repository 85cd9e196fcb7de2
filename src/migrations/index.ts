import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261121000000_initial } from "./Migration20261121000000_initial";
import { Migration20261121010000_messaging } from "./Migration20261121010000_messaging";
import { Migration20261121020000_safety } from "./Migration20261121020000_safety";
import { Migration20261121030000_outbox } from "./Migration20261121030000_outbox";
import { Migration20261201000000_member_epoch } from "./Migration20261201000000_member_epoch";
import { Migration20261202000000_outbox_offline } from "./Migration20261202000000_outbox_offline";
import { Migration20261204000000_message_log } from "./Migration20261204000000_message_log";
import { Migration20261206000000_inbox } from "./Migration20261206000000_inbox";

/** Every migration, in order; listed explicitly so compiled and ts-node runs find the same set. */
export const migrationsList: MigrationObject[] = [
  { name: "Migration20261121000000_initial", class: Migration20261121000000_initial },
  { name: "Migration20261121010000_messaging", class: Migration20261121010000_messaging },
  { name: "Migration20261121020000_safety", class: Migration20261121020000_safety },
  { name: "Migration20261121030000_outbox", class: Migration20261121030000_outbox },
  { name: "Migration20261201000000_member_epoch", class: Migration20261201000000_member_epoch },
  { name: "Migration20261202000000_outbox_offline", class: Migration20261202000000_outbox_offline },
  { name: "Migration20261204000000_message_log", class: Migration20261204000000_message_log },
  { name: "Migration20261206000000_inbox", class: Migration20261206000000_inbox },
];
