import {
  Entity,
  Enum,
  Index,
  ManyToOne,
  OptionalProps,
  PrimaryKeyProp,
  Property,
} from "@mikro-orm/core";
import { Field, Int, ObjectType } from "type-graphql";
import { User } from "../users/user.entity";
import { Conversation } from "./conversation.entity";
import { ParticipantRole } from "./conversation.enums";

@Entity({ tableName: "participant" })
@Index({ name: "participant_user_idx", properties: ["userId", "conversationId"] })
@ObjectType("Participant")
export class Participant {
  [PrimaryKeyProp]?: ["conversationId", "userId"];
  [OptionalProps]?:
    | "role"
    | "joinedAt"
    | "leftAt"
    | "lastReadSeq"
    | "lastReadAt"
    | "joinedSeq"
    | "leftSeq";

  @ManyToOne(() => Conversation, {
    primary: true,
    mapToPk: true,
    fieldName: "conversation_id",
    deleteRule: "cascade",
  })
  conversationId!: string;

  @ManyToOne(() => User, { primary: true, mapToPk: true, fieldName: "user_id" })
  userId!: string;

  @Field(() => ParticipantRole)
  @Enum({ items: () => ParticipantRole, nativeEnumName: "participant_role" })
  role: ParticipantRole = ParticipantRole.MEMBER;

  @Field(() => Date)
  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  joinedAt: Date = new Date();

  /** Set when the user left or was removed; the row stays for history, the access goes. */
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  leftAt: Date | null = null;

  /**
   * The membership in seqs: a member of every message with joinedSeq < seq (and seq <= leftSeq
   * once they left), which is who a message was for when it committed (the notification relay).
   */
  @Property({ type: "integer", default: 0 })
  joinedSeq: number = 0;

  @Property({ type: "integer", nullable: true })
  leftSeq: number | null = null;

  @Field(() => Int, { description: "The seq up to which this participant has read." })
  @Property({ type: "integer", default: 0 })
  lastReadSeq: number = 0;

  @Field(() => Date, { nullable: true })
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  lastReadAt: Date | null = null;
}
