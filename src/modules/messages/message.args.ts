import { ArgsType, Field, ID, Int } from "type-graphql";
import { ForwardPageArgs, PageArgs } from "../../core/pagination";

@ArgsType()
export class MessagesArgs extends PageArgs {
  @Field(() => ID)
  conversationId!: string;
}

@ArgsType()
export class MessageAddedArgs {
  @Field(() => ID, {
    nullable: true,
    description: "Without it: every conversation the viewer is in, as membership changes.",
  })
  conversationId?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "Needs conversationId: first every stored message with seq > afterSeq, then live ones, with no gap and no duplicate.",
  })
  afterSeq?: number | null;
}

@ArgsType()
export class MessageUpdatedArgs {
  @Field(() => ID, {
    nullable: true,
    description: "Without it: every conversation the viewer is in.",
  })
  conversationId?: string | null;
}

@ArgsType()
export class SearchMessagesArgs extends ForwardPageArgs {
  @Field(() => String, { description: "Words to find; quotes for phrases, - to exclude." })
  query!: string;

  @Field(() => ID, { nullable: true, description: "Only this conversation." })
  conversationId?: string | null;
}
