import { Entity, Enum, Index, OptionalProps, PrimaryKey, Property } from "@mikro-orm/core";
import { Field, ID, Int, ObjectType } from "type-graphql";
import { randomUUID } from "node:crypto";
import { ConversationKind } from "./conversation.enums";

@Entity({ tableName: "conversation" })
@Index({ name: "conversation_activity_idx", properties: ["lastActivityAt", "id"] })
@ObjectType("Conversation")
export class Conversation {
  [OptionalProps]?:
    | "id"
    | "title"
    | "subject"
    | "directKey"
    | "lastSeq"
    | "memberEpoch"
    | "lastMessageId"
    | "createdAt"
    | "lastActivityAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @Field(() => ConversationKind)
  @Enum({ items: () => ConversationKind, nativeEnumName: "conversation_kind" })
  kind!: ConversationKind;

  @Field(() => String, { nullable: true })
  @Property({ type: "text", nullable: true })
  title: string | null = null;

  @Field(() => String, {
    nullable: true,
    description:
      'What the conversation is about, e.g. "listing:42". A DIRECT conversation is unique per (pair of users, subject).',
  })
  @Property({ type: "text", nullable: true })
  subject: string | null = null;

  /** The two user ids sorted plus the subject; unique, so DIRECT conversations cannot be doubled. */
  @Property({ type: "text", nullable: true, unique: "conversation_direct_key_unique" })
  directKey: string | null = null;

  @Field(() => Int, { description: "The highest seq in this conversation (0 when empty)." })
  @Property({ type: "integer", default: 0 })
  lastSeq: number = 0;

  /** Moved by a trigger whenever the current participants change (see the migration). */
  @Property({ type: "integer", default: 0 })
  memberEpoch: number = 0;

  @Property({ type: "uuid", nullable: true })
  lastMessageId: string | null = null;

  @Field(() => Date)
  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  lastActivityAt: Date = new Date();
}
