import { Field, ID, InputType } from "type-graphql";
import { ConversationKind } from "./conversation.enums";

@InputType("CreateConversationInput")
export class CreateConversationInput {
  @Field(() => ConversationKind)
  kind!: ConversationKind;

  @Field(() => [ID], {
    description: "The other participants; the viewer is always added (as OWNER of a GROUP).",
  })
  participantIds!: string[];

  @Field(() => String, { nullable: true, description: "GROUP only; up to 200 characters." })
  title?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'What the conversation is about, e.g. "listing:42"; up to 200 characters.',
  })
  subject?: string | null;
}
