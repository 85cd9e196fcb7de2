import { ArgsType, Field, ID, Int } from "type-graphql";
import { PageArgs } from "../../core/pagination";

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
