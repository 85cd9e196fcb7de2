import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType("Attachment", {
  description: "A reference to media stored by a media service; this service keeps the reference.",
})
export class Attachment {
  @Field(() => ID)
  mediaId!: string;

  @Field(() => String)
  url!: string;

  @Field(() => String)
  mimeType!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Int, { nullable: true })
  size?: number | null;

  @Field(() => Int, { nullable: true })
  width?: number | null;

  @Field(() => Int, { nullable: true })
  height?: number | null;
}
