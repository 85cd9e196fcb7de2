import { ArrayType, Entity, OptionalProps, PrimaryKey, Property } from "@mikro-orm/core";
import { Field, ID, ObjectType } from "type-graphql";

@Entity({ tableName: "app_user" })
@ObjectType("User", {
  description:
    "A user, identified by the `sub` claim of their access token. Profiles belong to another service.",
})
export class User {
  [OptionalProps]?: "displayName" | "roles" | "createdAt" | "lastSeenAt";

  @Field(() => ID)
  @PrimaryKey({ type: "text" })
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: "The token's `name` claim as last seen here; null until the user signs in.",
  })
  @Property({ type: "text", nullable: true })
  displayName: string | null = null;

  @Property({ type: ArrayType, columnType: "text[]", default: "{}" })
  roles: string[] = [];

  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  lastSeenAt: Date | null = null;
}
