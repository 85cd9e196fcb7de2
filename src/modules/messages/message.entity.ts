import {
  Entity,
  Enum,
  ManyToOne,
  OptionalProps,
  PrimaryKey,
  Property,
  Unique,
} from "@mikro-orm/core";
import { Field, ID, Int, ObjectType } from "type-graphql";
import { randomUUID } from "node:crypto";
import { Conversation } from "../conversations/conversation.entity";
import { User } from "../users/user.entity";
import { Attachment } from "./attachment.type";
import { MessageKind } from "./message.enums";
import { SystemEvent } from "./system-event.type";

@Entity({ tableName: "message" })
@Unique({ name: "message_conversation_seq_unique", properties: ["conversationId", "seq"] })
@Unique({ name: "message_sender_client_id_unique", properties: ["senderId", "clientMessageId"] })
@ObjectType("Message")
export class Message {
  [OptionalProps]?:
    | "id"
    | "senderId"
    | "kind"
    | "text"
    | "attachments"
    | "clientMessageId"
    | "createdAt"
    | "editedAt"
    | "deletedAt"
    | "systemEvent";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @Field(() => ID)
  @ManyToOne(() => Conversation, {
    mapToPk: true,
    fieldName: "conversation_id",
    deleteRule: "cascade",
  })
  conversationId!: string;

  @Field(() => Int, {
    description: "Position in its conversation: 1, 2, 3, ... with no gaps and no repeats.",
  })
  @Property({ type: "integer" })
  seq!: number;

  /** Null for SYSTEM messages. */
  @ManyToOne(() => User, { mapToPk: true, fieldName: "sender_id", nullable: true })
  senderId: string | null = null;

  @Field(() => MessageKind)
  @Enum({ items: () => MessageKind, nativeEnumName: "message_kind" })
  kind: MessageKind = MessageKind.TEXT;

  @Field(() => String, { nullable: true, description: "Null once deleted." })
  @Property({ type: "text", nullable: true })
  text: string | null = null;

  @Field(() => [Attachment])
  @Property({ type: "json", default: "[]" })
  attachments: Attachment[] = [];

  @Field(() => String, {
    nullable: true,
    description: "The sender's own id for this message, echoed back for optimistic UIs.",
  })
  @Property({ type: "text", nullable: true })
  clientMessageId: string | null = null;

  @Field(() => Date)
  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  editedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  deletedAt: Date | null = null;

  /** What a SYSTEM message records, for clients that render it in their own words. */
  @Field(() => SystemEvent, { nullable: true, description: "Set on SYSTEM messages only." })
  @Property({ type: "json", nullable: true })
  systemEvent: SystemEvent | null = null;
}

/** A message's fields, as a statement of its own writes them or a pub/sub event carries them. */
export type MessageFields = Pick<Message, "conversationId" | "seq" | "kind" | "createdAt"> &
  Partial<Omit<Message, "conversationId" | "seq" | "kind" | "createdAt">>;

/**
 * A Message outside any unit of work: a plain object of the entity's shape. `new Message()` goes
 * through the ORM's change-tracking accessors for every field (an accessor defined per instance,
 * and the entity's helper created), which a message written by a statement of its own, or
 * received from pub/sub, never needs: the send path makes one per send and the fan-out one per
 * event.
 */
export function messageRecord(fields: MessageFields): Message {
  return {
    id: fields.id ?? randomUUID(),
    conversationId: fields.conversationId,
    seq: fields.seq,
    senderId: fields.senderId ?? null,
    kind: fields.kind,
    text: fields.text ?? null,
    attachments: fields.attachments ?? [],
    clientMessageId: fields.clientMessageId ?? null,
    createdAt: fields.createdAt,
    editedAt: fields.editedAt ?? null,
    deletedAt: fields.deletedAt ?? null,
    systemEvent: fields.systemEvent ?? null,
  };
}
