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
    | "leftSeq"
    | "lastDeliveredSeq"
    | "lastDeliveredAt"
    | "muted"
    | "mutedUntil"
    | "archivedSeq"
    | "pinnedAt"
    | "stateAt";

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

  /**
   * The seq up to which this participant's devices received messages (a frame written to one of
   * their sockets, or markDelivered). Read through deliveredSeq(): never below lastReadSeq.
   */
  @Property({ type: "integer", default: 0 })
  lastDeliveredSeq: number = 0;

  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  lastDeliveredAt: Date | null = null;

  /** The participant's own state of the conversation; nobody else sees it. */
  @Property({ type: "boolean", default: false })
  muted: boolean = false;

  /** With muted: unmuted from then on. */
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  mutedUntil: Date | null = null;

  /** Archived at this seq: hidden from the inbox until a message after it arrives. */
  @Property({ type: "integer", nullable: true })
  archivedSeq: number | null = null;

  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  pinnedAt: Date | null = null;

  /** When the participant's own state (muted, archived, pinned, unread) last changed. */
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  stateAt: Date | null = null;
}
