import { Field, ObjectType } from "type-graphql";
import { PageInfo } from "../../core/pagination";
import { Conversation } from "./conversation.entity";

@ObjectType("ConversationEdge")
export class ConversationEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Conversation)
  node!: Conversation;
}

@ObjectType("ConversationConnection")
export class ConversationConnection {
  @Field(() => [ConversationEdge])
  edges!: ConversationEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
