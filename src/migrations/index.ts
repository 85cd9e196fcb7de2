import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261121000000_initial } from "./Migration20261121000000_initial";

/** Every migration, in order; listed explicitly so compiled and ts-node runs find the same set. */
export const migrationsList: MigrationObject[] = [
  { name: "Migration20261121000000_initial", class: Migration20261121000000_initial },
];
