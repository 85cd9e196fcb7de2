import { Field, ObjectType } from "type-graphql";
import { PageInfo } from "../../core/pagination";
import { Report } from "./report.entity";

@ObjectType("ReportEdge")
export class ReportEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Report)
  node!: Report;
}

@ObjectType("ReportConnection")
export class ReportConnection {
  @Field(() => [ReportEdge])
  edges!: ReportEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
