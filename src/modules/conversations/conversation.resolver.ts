import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import type { Context } from "../../context";
import { PageArgs, type Page } from "../../core/pagination";
import { Message } from "../messages/message.entity";
import { MessageConnection } from "../messages/message.payload";
import { ConversationsArgs } from "./conversation.args";
import { Conversation } from "./conversation.entity";
import { CreateConversationInput } from "./conversation.input";
import { ConversationConnection } from "./conversation.payload";
import { Participant } from "./participant.entity";

@Resolver(() => Conversation)
export class ConversationResolver {
  @Authorized()
  @Query(() => Conversation, {
    nullable: true,
    description: "A conversation the viewer is in; NOT_FOUND for any other id.",
  })
  conversation(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<Conversation> {
    return ctx.app.conversations.require(ctx, id);
  }

  @Authorized()
  @Query(() => ConversationConnection, {
    description: "The viewer's conversations, most recent activity first.",
  })
  conversations(@Args() args: ConversationsArgs, @Ctx() ctx: Context): Promise<Page<Conversation>> {
    return ctx.app.conversations.list(ctx, args);
  }

  @Authorized()
  @Mutation(() => Conversation, {
    description:
      "Creates a conversation. A DIRECT one that already exists for the pair and subject is returned instead.",
  })
  createConversation(
    @Arg("input", () => CreateConversationInput) input: CreateConversationInput,
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.app.conversations.create(ctx, input);
  }

  @FieldResolver(() => [Participant], { description: "Current participants, oldest first." })
  participants(@Root() conversation: Conversation, @Ctx() ctx: Context): Promise<Participant[]> {
    return ctx.loaders.participants.load(conversation.id);
  }

  @FieldResolver(() => Message, { nullable: true })
  async lastMessage(
    @Root() conversation: Conversation,
    @Ctx() ctx: Context,
  ): Promise<Message | null> {
    return conversation.lastMessageId ? ctx.loaders.message.load(conversation.lastMessageId) : null;
  }

  @FieldResolver(() => Int, {
    description:
      "Messages from others, not deleted, after the viewer's read position (SYSTEM notices excluded).",
  })
  unreadCount(@Root() conversation: Conversation, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.unreadCount.load(conversation.id);
  }

  @FieldResolver(() => MessageConnection, {
    description: "History ordered by seq ascending; with no arguments, the newest page.",
  })
  messages(
    @Root() conversation: Conversation,
    @Args() args: PageArgs,
    @Ctx() ctx: Context,
  ): Promise<Page<Message>> {
    return ctx.app.messages.page(ctx, conversation.id, args);
  }
}
