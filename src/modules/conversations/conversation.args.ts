import { ArgsType, Field } from "type-graphql";
import { ForwardPageArgs } from "../../core/pagination";

@ArgsType()
export class ConversationsArgs extends ForwardPageArgs {
  @Field(() => String, {
    nullable: true,
    description: "Matches title, subject and participants' display names.",
  })
  search?: string | null;
}
