import { Field, ID, InputType, Int } from "type-graphql";

@InputType("AttachmentInput", {
  description: "A reference to media already uploaded to a media service; https URLs only.",
})
export class AttachmentInput {
  @Field(() => ID)
  mediaId!: string;

  @Field(() => String)
  url!: string;

  @Field(() => String)
  mimeType!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Int, { nullable: true, description: "Bytes." })
  size?: number | null;

  @Field(() => Int, { nullable: true, description: "Pixels, for images and video." })
  width?: number | null;

  @Field(() => Int, { nullable: true })
  height?: number | null;
}

@InputType("SendMessageInput")
export class SendMessageInput {
  @Field(() => ID)
  conversationId!: string;

  @Field(() => String, {
    nullable: true,
    description: "1 to 5000 characters after trimming; may be omitted when attachments are sent.",
  })
  text?: string | null;

  @Field(() => [AttachmentInput], { nullable: true, description: "Up to 10." })
  attachments?: AttachmentInput[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Retrying with the same clientMessageId returns the first message, never a second one.",
  })
  clientMessageId?: string | null;
}
