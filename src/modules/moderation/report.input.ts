import { ArgsType, Field, ID, InputType } from "type-graphql";
import { ForwardPageArgs } from "../../core/pagination";
import { ReportReason, ReportStatus } from "./report.enums";

@InputType("ReportInput")
export class ReportInput {
  @Field(() => ID, { nullable: true, description: "Exactly one of messageId and userId." })
  messageId?: string | null;

  @Field(() => ID, { nullable: true })
  userId?: string | null;

  @Field(() => ReportReason)
  reason!: ReportReason;

  @Field(() => String, { nullable: true, description: "Up to 1000 characters." })
  details?: string | null;
}

@ArgsType()
export class ReportsArgs extends ForwardPageArgs {
  @Field(() => ReportStatus, { nullable: true, description: "Default: every status." })
  status?: ReportStatus | null;
}
