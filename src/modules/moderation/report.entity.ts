import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property } from "@mikro-orm/core";
import { randomUUID } from "node:crypto";
import { Field, ID, ObjectType } from "type-graphql";
import { Message } from "../messages/message.entity";
import { User } from "../users/user.entity";
import { ReportReason, ReportStatus } from "./report.enums";

@Entity({ tableName: "report" })
@ObjectType("Report", { description: "A report to moderators about a message or a user." })
export class Report {
  [OptionalProps]?:
    | "id"
    | "messageId"
    | "reportedUserId"
    | "details"
    | "status"
    | "createdAt"
    | "resolvedBy"
    | "resolvedAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => User, { mapToPk: true, fieldName: "reporter_id" })
  reporterId!: string;

  @ManyToOne(() => Message, { mapToPk: true, fieldName: "message_id", nullable: true })
  messageId: string | null = null;

  @ManyToOne(() => User, { mapToPk: true, fieldName: "reported_user_id", nullable: true })
  reportedUserId: string | null = null;

  @Field(() => ReportReason)
  @Enum({ items: () => ReportReason, nativeEnumName: "report_reason" })
  reason!: ReportReason;

  @Field(() => String, { nullable: true })
  @Property({ type: "text", nullable: true })
  details: string | null = null;

  @Field(() => ReportStatus)
  @Enum({ items: () => ReportStatus, nativeEnumName: "report_status" })
  status: ReportStatus = ReportStatus.OPEN;

  @Field(() => Date)
  @Property({ type: "Date", columnType: "timestamptz(3)", defaultRaw: "now()" })
  createdAt: Date = new Date();

  @ManyToOne(() => User, { mapToPk: true, fieldName: "resolved_by", nullable: true })
  resolvedBy: string | null = null;

  @Property({ type: "Date", columnType: "timestamptz(3)", nullable: true })
  resolvedAt: Date | null = null;
}
