import { Field, ObjectType } from "type-graphql";
import { PageInfo } from "../../core/pagination";
import { Message } from "./message.entity";

@ObjectType("MessageEdge")
export class MessageEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Message)
  node!: Message;
}

@ObjectType("MessageConnection")
export class MessageConnection {
  @Field(() => [MessageEdge])
  edges!: MessageEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
