import { Entity, ManyToOne, OptionalProps, PrimaryKeyProp, Property } from "@mikro-orm/core";
import { User } from "../users/user.entity";

@Entity({ tableName: "block" })
export class Block {
  [PrimaryKeyProp]?: ["blockerId", "blockedId"];
  [OptionalProps]?: "createdAt";

  @ManyToOne(() => User, { primary: true, mapToPk: true, fieldName: "blocker_id" })
  blockerId!: string;

  @ManyToOne(() => User, { primary: true, mapToPk: true, fieldName: "blocked_id" })
  blockedId!: string;

  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  createdAt: Date = new Date();
}
